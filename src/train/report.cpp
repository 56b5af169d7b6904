#include "volt/train/report.h"

#include <cmath>
#include <filesystem>
#include <sstream>

#include "volt/core/csv_logger.h"
#include "volt/core/svg_plot.h"
#include "volt/io/files.h"

namespace volt {

void write_run_report(const std::string& run_dir) {
  namespace fs = std::filesystem;
  const auto rows = CSVLogger::read((fs::path(run_dir) / "metrics.csv").string());
  Series train{"train_loss", {}, {}}, val{"val_loss", {}, {}};
  double best_val = NAN, best_step = NAN, last_train = NAN, last_step = 0;
  double wait_sum = 0;
  int64_t wait_rows = 0;
  for (const auto& r : rows) {
    const double step = r.count("step") ? r.at("step") : 0;
    last_step = std::max(last_step, step);
    if (auto it = r.find("train_loss"); it != r.end()) {
      train.x.push_back(step), train.y.push_back(it->second), last_train = it->second;
    }
    if (auto it = r.find("val_loss"); it != r.end()) {
      val.x.push_back(step), val.y.push_back(it->second);
      if (std::isnan(best_val) || it->second < best_val) best_val = it->second, best_step = step;
    }
  }
  const auto timings_path = fs::path(run_dir) / "timings.csv";
  if (fs::exists(timings_path)) {
    for (const auto& r : CSVLogger::read(timings_path.string())) {
      if (auto it = r.find("data_wait"); it != r.end()) wait_sum += it->second, ++wait_rows;
    }
  }
  write_line_plot_svg((fs::path(run_dir) / "loss.svg").string(), {train, val},
                      "Loss (" + fs::path(run_dir).filename().string() + ")", "step",
                      "cross-entropy (nats/token)");
  std::ostringstream md;
  md << "# Run report: " << fs::path(run_dir).filename().string() << "\n\n";
  md << "![loss](loss.svg)\n\n";
  md << "| | |\n| --- | --- |\n";
  md << "| steps | " << static_cast<int64_t>(last_step) << " |\n";
  if (!std::isnan(last_train)) md << "| last train_loss | " << last_train << " |\n";
  if (!val.y.empty()) {
    md << "| last val_loss | " << val.y.back() << " (perplexity " << std::exp(val.y.back()) << ") |\n";
    md << "| best val_loss | " << best_val << " at step " << static_cast<int64_t>(best_step) << " |\n";
  }
  if (wait_rows > 0) {
    md << "| data wait | " << 100.0 * wait_sum / static_cast<double>(wait_rows)
       << "% of step time (mean of the logged intervals; above 10% the model starves) |\n";
  }
  md << "\nFiles: `config.yaml` (the resolved config), `metrics.csv` (every logged metric by step), "
        "`timings.csv` (step time, data wait, tokens/s), "
        "`checkpoints/` (Hugging Face directories plus trainer state).\n";
  io::write_file_atomic((fs::path(run_dir) / "report.md").string(), md.str());
}

}  // namespace volt
