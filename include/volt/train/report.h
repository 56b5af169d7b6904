// The run directory's human-readable report: report.md and loss.svg (train and validation loss
// against step), built from metrics.csv so it can be regenerated for any run.
#pragma once

#include <string>

namespace volt {

/// Reads <run_dir>/metrics.csv; writes <run_dir>/loss.svg and <run_dir>/report.md.
void write_run_report(const std::string& run_dir);

}  // namespace volt
