#pragma once
// `statestream forecast --plot out.png`: draws one stream's forecasts with
// scripts/plot_forecast.py (Debian's /usr/bin/python3 with python3-matplotlib) after the run.
// The script is found beside the build tree the program runs from, or in the installed
// share/statestream/scripts, as models are (apps/model_search.hpp).

#include <filesystem>
#include <string>

namespace statestream::apps {

struct ForecastPlotRequest {
    std::filesystem::path forecast_csv;  // the stream's forecasts, in the command's CSV form
    std::filesystem::path ticks;         // the tick CSV the command read; empty for stdin or UDP
    std::string stream_id;
    std::string horizons;                // "1" or "1,24": horizons drawn at their target times
    std::filesystem::path png;
};

// Thread: main, before the run. Finds the script and checks that python3 imports matplotlib,
// so a missing package is said before the input is read, not after. Throws std::runtime_error
// naming what is missing and the package that brings it.
[[nodiscard]] std::filesystem::path check_plot_tools();

// Thread: main. Runs the script (its stdout goes to our stderr, which keeps our stdout for the
// forecasts); throws std::runtime_error with its exit status when it fails. It prints its own
// reason on stderr first.
void draw_forecast_plot(const std::filesystem::path& script, const ForecastPlotRequest& request);

}  // namespace statestream::apps
