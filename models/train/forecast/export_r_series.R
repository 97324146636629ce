#!/usr/bin/env Rscript
# Exports the real series that ../shared/DATA.md allows for training into data/series/real/:
# one CSV per series, index.json (metadata and checksums) and SHA256SUMS. A developer-time
# script: the CSVs are committed and CI checks them with check_series.py, without R.
#
#     Rscript models/train/forecast/export_r_series.R        # from the repository root
#
# Needs R with the forecast, tseries and AER packages (Debian: r-base-core r-cran-forecast
# r-cran-tseries r-cran-aer), python3 (to read the allow-list) and sha256sum. Output is the
# same byte for byte on every run with the same package versions.
#
# Column policy: a dataset of parallel series (ice.river, NelPlo, FrozenJuice, ChinaIncome) is
# exported one CSV per column, named "<dataset>.<column>"; freeny is a response with regressors
# (one of them the response lagged), so only its response y is exported, as "freeny".

suppressPackageStartupMessages({
  library(forecast)
  library(tseries)
  library(AER)
})

out_dir <- file.path("data", "series", "real")
allow_script <- file.path("models", "train", "forecast", "allowed_series.py")
if (!file.exists(allow_script)) stop("run from the repository root (", allow_script, " not found)")

# The allow-list lives in allowed_series.py only; read it rather than repeat it here.
allowed <- read.table(text = system2("python3", allow_script, stdout = TRUE),
                      col.names = c("package", "dataset"), stringsAsFactors = FALSE)

# Per dataset: time unit of t, units of the values, one-line description (our words), and for
# multivariate ones the units per column. units NA = not stated by the source.
meta <- list(
  AirPassengers = list("year", "thousands of passengers",
                       "Monthly international airline passengers, 1949-1960 (Box and Jenkins)"),
  JohnsonJohnson = list("year", "US dollars per share",
                        "Quarterly earnings per Johnson & Johnson share, 1960-1980"),
  nhtemp = list("year", "degrees Fahrenheit", "Mean annual temperature in New Haven, 1912-1971"),
  uspop = list("year", "millions of people", "US population at each census, 1790-1970"),
  airmiles = list("year", "passenger-miles",
                  "Revenue passenger miles flown by US commercial airlines, 1937-1960"),
  discoveries = list("year", "count",
                     "Great inventions and scientific discoveries per year, 1860-1959"),
  presidents = list("year", "percent",
                    "Quarterly approval rating of the US president, 1945-1974"),
  lh = list("sample (10 minutes apart)", NA,
            "Luteinizing hormone in blood samples of one woman, every 10 minutes"),
  BJsales = list("observation", NA, "Sales series (Box and Jenkins series M), 150 points"),
  freeny = list("year", NA, "Quarterly revenue, the response y of Freeny's revenue data"),
  gas = list("year", NA, "Australian monthly gas production, 1956-1995"),
  gold = list("trading day", "US dollars per troy ounce",
              "Daily morning gold price, 1 January 1985 to 31 March 1989"),
  taylor = list("week", "megawatts",
                "Half-hourly electricity demand in England and Wales, June to August 2000"),
  woolyrnq = list("year", "tonnes", "Quarterly woollen yarn production in Australia, 1965-1994"),
  bev = list("year", "index", "Beveridge wheat price index, western and central Europe, 1500-1869"),
  camp = list("year", NA, "Mount Campito tree-ring series, yearly over 5405 years to 1969"),
  ice.river = list("year (days, frequency 365)",
                   c(flow.vat = "cubic metres per second", flow.jok = "cubic metres per second",
                     prec = "millimetres", temp = "degrees Celsius"),
                   "Icelandic rivers, daily 1972-1974: column"),
  NelPlo = list("year", NA, "Nelson-Plosser US macroeconomic series, annual to 1988: column"),
  DutchSales = list("year", "index", "Monthly retail sales index of the Netherlands, 1960-1995"),
  FrozenJuice = list("year", c(price = "producer price", ppi = "index",
                               fdd = "freezing degree days (Fahrenheit)"),
                     "Frozen orange juice price, producer price index, Orlando freezes: column"),
  NYSESW = list("day (days since 1970-01-01, trading days only)", "index points",
                "Daily New York Stock Exchange composite index, 1990-2005"),
  ChinaIncome = list("year", "index (1952 = 100)",
                     "Real national income in China by sector, 1952-1988: column")
)

json_string <- function(x) {
  if (length(x) == 0 || is.na(x)) return("null")
  paste0("\"", gsub("\"", "\\\\\"", gsub("\\\\", "\\\\\\\\", x)), "\"")
}
json_number <- function(x) if (is.null(x) || is.na(x)) "null" else sprintf("%.15g", x)

# Trims NA at both ends (a column of NelPlo starts late) and keeps inner NA as NaN, so the
# regular grid stays intact and a reader can turn a missing value into a gap.
trim_ends <- function(values, times) {
  present <- which(!is.na(values))
  keep <- seq(min(present), max(present))
  list(values = values[keep], times = times[keep])
}

write_series <- function(name, dataset, column, package, values, times, frequency, m) {
  trimmed <- trim_ends(as.numeric(values), as.numeric(times))
  value_text <- ifelse(is.na(trimmed$values), "NaN", sprintf("%.15g", trimmed$values))
  time_text <- sprintf("%.10g", trimmed$times)
  file_name <- paste0(name, ".csv")
  path <- file.path(out_dir, file_name)
  con <- file(path, "wb")   # "\n" line ends on every platform, so checksums agree
  writeLines(c("t,value", paste(time_text, value_text, sep = ",")), con, sep = "\n")
  close(con)
  digest <- strsplit(system2("sha256sum", path, stdout = TRUE), " ")[[1]][1]
  units <- m[[2]]
  if (!is.null(column) && length(units) > 1) units <- units[[column]]
  description <- if (is.null(column)) m[[3]] else paste(m[[3]], column)
  fields <- c(
    name = json_string(name), dataset = json_string(dataset),
    column = if (is.null(column)) "null" else json_string(column),
    package = json_string(package), file = json_string(file_name),
    frequency = json_number(frequency), start = json_number(trimmed$times[1]),
    length = as.character(length(trimmed$values)),
    missing = as.character(sum(is.na(trimmed$values))),
    time_unit = json_string(m[[1]]), units = json_string(units),
    description = json_string(description), sha256 = json_string(digest))
  cat(sprintf("%-28s %-9s n=%5d missing=%d\n", name, package, length(trimmed$values),
              sum(is.na(trimmed$values))))
  list(json = paste0("    {", paste0("\"", names(fields), "\": ", fields, collapse = ", "), "}"),
       sum = paste0(digest, "  ", file_name))
}

dir.create(out_dir, recursive = TRUE, showWarnings = FALSE)
unlink(file.path(out_dir, c("*.csv", "index.json", "SHA256SUMS")))   # stale series must go

records <- list()
for (row in seq_len(nrow(allowed))) {
  package <- allowed$package[row]
  dataset <- allowed$dataset[row]
  m <- meta[[dataset]]
  if (is.null(m)) stop("allowed dataset ", dataset, " has no entry in meta; add one")
  env <- new.env()
  data(list = dataset, package = package, envir = env)
  x <- get(dataset, envir = env)
  if (dataset == "freeny") x <- x$y
  if (inherits(x, "zoo")) {
    # Trading days only: t is the calendar day number, frequency null (an irregular series).
    records[[length(records) + 1]] <- write_series(
      dataset, dataset, NULL, package, zoo::coredata(x), as.numeric(zoo::index(x)), NA, m)
  } else if (is.matrix(x)) {
    for (column in colnames(x)) {
      records[[length(records) + 1]] <- write_series(
        paste0(dataset, ".", column), dataset, column, package, x[, column], time(x),
        frequency(x), m)
    }
  } else {
    records[[length(records) + 1]] <- write_series(dataset, dataset, NULL, package, x, time(x),
                                                   frequency(x), m)
  }
}
unknown <- setdiff(names(meta), allowed$dataset)
if (length(unknown)) stop("meta names datasets that are not allowed: ", toString(unknown))

versions <- sprintf("\"R\": \"%s.%s\", \"forecast\": \"%s\", \"tseries\": \"%s\", \"AER\": \"%s\"",
                    R.version$major, R.version$minor, packageVersion("forecast"),
                    packageVersion("tseries"), packageVersion("AER"))
index <- c("{",
           "  \"format\": \"t,value CSV; see models/train/forecast/README.md\",",
           paste0("  \"exported_with\": {", versions, "},"),
           "  \"series\": [",
           paste(vapply(records, `[[`, "", "json"), collapse = ",\n"),
           "  ]", "}")
con <- file(file.path(out_dir, "index.json"), "wb")
writeLines(index, con, sep = "\n")
close(con)
con <- file(file.path(out_dir, "SHA256SUMS"), "wb")
writeLines(vapply(records, `[[`, "", "sum"), con, sep = "\n")
close(con)
cat(length(records), "series written to", out_dir, "\n")
