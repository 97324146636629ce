#include "engine/io/portaudio_session.hpp"

#include <cstdlib>
#include <stdexcept>
#include <string>

#include <fcntl.h>
#include <pa_jack.h>
#include <portaudio.h>
#include <unistd.h>

namespace statestream::engine::io {

namespace {

class ProbeNoiseSilencer {
public:
    ProbeNoiseSilencer() {
        const char* debug = std::getenv("STATESTREAM_AUDIO_DEBUG");
        if (debug != nullptr && debug[0] == '1') return;
        saved_stderr_ = ::dup(STDERR_FILENO);
        const int null_fd = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
        if (saved_stderr_ >= 0 && null_fd >= 0) ::dup2(null_fd, STDERR_FILENO);
        if (null_fd >= 0) ::close(null_fd);
    }
    ~ProbeNoiseSilencer() {
        if (saved_stderr_ < 0) return;
        ::dup2(saved_stderr_, STDERR_FILENO);
        ::close(saved_stderr_);
    }
    ProbeNoiseSilencer(const ProbeNoiseSilencer&) = delete;
    ProbeNoiseSilencer& operator=(const ProbeNoiseSilencer&) = delete;

private:
    int saved_stderr_ = -1;
};

}  // namespace

PortAudioSession::PortAudioSession() {
    const PaError status = [] {
        const ProbeNoiseSilencer quiet;
        // Takes effect for the JACK client opened by the first Pa_Initialize of the process.
        (void)PaJack_SetClientName(kJackClientName);
        return Pa_Initialize();
    }();
    if (status != paNoError) {
        throw std::runtime_error(std::string("PortAudio could not start: ") +
                                 Pa_GetErrorText(status));
    }
}

PortAudioSession::~PortAudioSession() {
    if (!abandoned_) Pa_Terminate();
}

}  // namespace statestream::engine::io
