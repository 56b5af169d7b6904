// Where data files are found: as given, else under $VOLT_DATA_DIR, else under ../shared/data, so
// configs can say "corpora/wikitext-2/valid.txt" and run from any machine that has the data.
#pragma once

#include <string>

namespace volt {

/// A data path: as given if it exists, else relative to VOLT_DATA_DIR or ../shared/data. A path
/// found nowhere is a volt::Error listing where it looked.
std::string resolve_data_path(const std::string& path);

/// The same for a glob pattern ("src/**/*.py"): its fixed leading folders are resolved, the
/// pattern part is kept. A plain path goes through resolve_data_path. The result is absolute.
std::string resolve_data_pattern(const std::string& pattern);

}  // namespace volt
