// The loggers through the Logger interface: metrics.csv byte-identical to what volt::CSVLogger
// (the Trainer's writer today) makes of the same calls, TensorBoard files read back by the
// independent reader, and make_logger's names.
#include "volt/train/logger.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "logging_test_util.h"
#include "test_util.h"
#include "volt/core/csv_logger.h"
#include "volt/train/loggers/csv_logger.h"
#include "volt/train/loggers/tensorboard_logger.h"

namespace volt {
namespace {

namespace fs = std::filesystem;
using test::ScopedTempDir;

TEST(Logger, MakeLoggerByName) {
  ScopedTempDir dir;
  EXPECT_NE(dynamic_cast<loggers::CSVLogger*>(make_logger("csv", dir.path()).get()), nullptr);
  EXPECT_NE(dynamic_cast<loggers::TensorBoardLogger*>(make_logger("tensorboard", dir.path()).get()),
            nullptr);
  EXPECT_EQ(logger_names(), (std::vector<std::string>{"csv", "tensorboard"}));
}

TEST(Logger, AMistypedNameSuggestsTheNearest) {
  ScopedTempDir dir;
  EXPECT_EQ(test::error_of([&] { make_logger("tensorbord", dir.path()); }),
            "[logger] unknown logger 'tensorbord' (did you mean 'tensorboard'?); the loggers are: "
            "csv, tensorboard");
  EXPECT_EQ(
      test::error_of([&] { make_logger("CSV", dir.path()); }),
      "[logger] unknown logger 'CSV' (did you mean 'csv'?); the loggers are: csv, tensorboard");
  EXPECT_EQ(test::error_of([&] { make_logger("wandb", dir.path()); }),
            "[logger] unknown logger 'wandb'; the loggers are: csv, tensorboard");
}

TEST(Logger, NameVersionAndLogDirLikeLightnings) {
  ScopedTempDir dir;
  const std::string run = dir / "runs/my-run";
  for (const std::string& given : {run, run + "/"}) {
    const auto logger = make_logger("csv", given);
    EXPECT_EQ(logger->name(), "my-run") << given;
    EXPECT_EQ(logger->version(), "");
    EXPECT_EQ(logger->log_dir(), given);
  }
  EXPECT_ERROR(make_logger("tensorboard", ""), "empty run directory");
}

TEST(Logger, CsvIsByteIdenticalToTheCoreWriter) {
  ScopedTempDir dir;
  {
    const auto logger = make_logger("csv", dir / "run");
    logger->log_hyperparams({{"optimizer.lr", 3e-4}});  // config.yaml's job: no file
    logger->log_metrics({{"train_loss", 2.5}, {"epoch", 0}}, 100);
    logger->log_metrics({{"val_loss", 2.75}}, 100);  // no epoch: the last one logged
    logger->log_metrics({{"train_loss", 2.25}, {"lr", 6e-4}, {"epoch", 1}}, 200);
    logger->log_metrics({{"train_loss", 0.123456789123}}, 300);
    logger->save();
    logger->finalize(RunStatus::success);
  }
  {
    CSVLogger core(dir / "core.csv");
    core.log(100, 0, {{"train_loss", 2.5}});
    core.log(100, 0, {{"val_loss", 2.75}});
    core.log(200, 1, {{"train_loss", 2.25}, {"lr", 6e-4}});
    core.log(300, 1, {{"train_loss", 0.123456789123}});
  }
  const std::string written = test::slurp(dir / "run/metrics.csv");
  EXPECT_EQ(written, test::slurp(dir / "core.csv"));
  EXPECT_EQ(written,
            "step,epoch,lr,train_loss,val_loss\n"
            "100,0,,2.5,2.75\n"
            "200,1,0.0006,2.25,\n"
            "300,1,,0.123456789,\n");
  std::vector<std::string> files;
  for (const auto& entry : fs::directory_iterator(dir / "run")) {
    files.push_back(entry.path().filename().string());
  }
  EXPECT_EQ(files, std::vector<std::string>{"metrics.csv"});
}

TEST(Logger, CsvResumeDropsRowsAfterTheCheckpoint) {
  ScopedTempDir dir;
  {
    loggers::CSVLogger crashed(dir.path());
    for (int64_t step = 10; step <= 50; step += 10)
      crashed.log_metrics({{"loss", 1.0 * step}}, step);
    crashed.save();
  }
  loggers::CSVLogger resumed(dir.path());
  resumed.resume(30);
  resumed.log_metrics({{"loss", 41}, {"epoch", 1}}, 40);
  resumed.save();
  EXPECT_EQ(test::slurp(resumed.path()), "step,epoch,loss\n10,0,10\n20,0,20\n30,0,30\n40,1,41\n");
}

TEST(Logger, CsvRefusesWhatTheFileCannotHold) {
  ScopedTempDir dir;
  loggers::CSVLogger logger(dir.path(), "timings.csv");
  EXPECT_ERROR(logger.log_metrics({{"a,b", 1}}, 1), "comma");
  logger.save();
  EXPECT_FALSE(fs::exists(dir / "timings.csv"));  // nothing logged, nothing written
}

TEST(Logger, TensorBoardThroughTheInterface) {
  ScopedTempDir dir;
  const std::string run = dir / "runs/tb-run";
  const HParams hparams = flatten_hparams(
      "trainer: {max_steps: 3, precision: bf16-mixed}\noptimizer: {lr: 3.0e-4}\n"
      "model: {bias: false}\n");
  {
    const auto logger = make_logger("tensorboard", run);
    EXPECT_FALSE(fs::exists(run));  // nothing until something is logged
    logger->log_hyperparams(hparams);
    for (int64_t step = 1; step <= 3; ++step) {
      logger->log_metrics({{"train/loss", 4.0 / step}, {"epoch", 0}}, step);
      logger->save();
    }
    logger->log_metrics({{"val/loss", 1.5}, {"epoch", 0}}, 3);
    logger->finalize(RunStatus::success);
  }
  const auto files = test::events_files(run);
  ASSERT_EQ(files.size(), 1u);
  READ_EVENTS_OK(r, files[0], dir);
  const auto& scalars = r.json["scalars"];
  ASSERT_EQ(scalars.size(), 8u);  // every value, "epoch" included (Lightning logs it too)
  EXPECT_EQ(scalars[0]["tag"], "epoch");
  EXPECT_EQ(scalars[1]["tag"], "train/loss");
  EXPECT_EQ(scalars[1]["value"], 4.0);
  EXPECT_EQ(scalars[5]["tag"], "train/loss");
  EXPECT_EQ(scalars[5]["step"], 3);
  EXPECT_EQ(scalars[5]["value"], static_cast<double>(static_cast<float>(4.0 / 3)));
  EXPECT_EQ(scalars[7]["tag"], "val/loss");
  EXPECT_EQ(r.json["hparams"], nlohmann::json({{"trainer.max_steps", 3.0},
                                               {"trainer.precision", "bf16-mixed"},
                                               {"optimizer.lr", 3e-4},
                                               {"model.bias", false}}));
  EXPECT_EQ(r.json["experiment"]["metrics"], nlohmann::json({"train/loss", "val/loss"}));
  EXPECT_EQ(r.json["experiment"]["hparams"].size(), 4u);
  EXPECT_EQ(r.json["session_end"]["status"], "STATUS_SUCCESS");
}

TEST(Logger, TensorBoardFailedAndInterruptedRuns) {
  ScopedTempDir dir;
  for (const RunStatus status : {RunStatus::failed, RunStatus::interrupted}) {
    const std::string run = dir / (status == RunStatus::failed ? "failed" : "interrupted");
    loggers::TensorBoardLogger logger(run);
    logger.log_hyperparams({{"seed", 1.0}});
    logger.log_metrics({{"loss", 1}}, 1);
    logger.finalize(status);
    logger.finalize(status);  // once only
    READ_EVENTS_OK(r, test::events_files(run).at(0), dir);
    EXPECT_EQ(r.json["experiment"]["metrics"], nlohmann::json({"loss"}));
    if (status == RunStatus::failed) {
      EXPECT_EQ(r.json["session_end"]["status"], "STATUS_FAILURE");
    } else {
      EXPECT_TRUE(r.json["session_end"].is_null());  // not over: a resume carries it on
    }
    // The version, the start info, loss, the experiment, and the end if it failed.
    EXPECT_EQ(r.json["records"], status == RunStatus::failed ? 5 : 4);
  }
}

TEST(Logger, TensorBoardResumeHidesWhatCameAfterTheCheckpoint) {
  ScopedTempDir dir;
  {
    loggers::TensorBoardLogger crashed(dir.path());
    for (int64_t step = 1; step <= 5; ++step) crashed.log_metrics({{"loss", 1.0 * step}}, step);
    crashed.finalize(RunStatus::interrupted);
  }
  {
    loggers::TensorBoardLogger resumed(dir.path());
    resumed.resume(3);
    resumed.log_metrics({{"loss", 40}}, 4);
    resumed.finalize(RunStatus::success);
  }
  const auto files = test::events_files(dir.path());
  ASSERT_EQ(files.size(), 2u);  // a file per run, read in name order
  READ_EVENTS_OK(second, files[1], dir);
  EXPECT_EQ(second.json["session_starts"], nlohmann::json({4}));
  ASSERT_EQ(second.json["scalars"].size(), 1u);
  EXPECT_EQ(second.json["scalars"][0]["step"], 4);
  READ_EVENTS_OK(first, files[0], dir);
  EXPECT_EQ(first.json["scalars"].size(), 5u);
}

TEST(Logger, TensorBoardLogsAgainAfterFinalizeIntoANewFile) {
  ScopedTempDir dir;
  loggers::TensorBoardLogger logger(dir.path());
  logger.log_metrics({{"loss", 1}}, 1);
  logger.finalize(RunStatus::success);
  logger.log_metrics({{"val_loss", 2}}, 1);  // trainer.validate() after fit()
  logger.experiment().add_text("notes", "validated", 1);
  logger.finalize(RunStatus::success);
  const auto files = test::events_files(dir.path());
  ASSERT_EQ(files.size(), 2u);
  READ_EVENTS_OK(r, files[1], dir);
  EXPECT_EQ(r.json["scalars"][0]["tag"], "val_loss");
  EXPECT_EQ(r.json["texts"][0]["text"], "validated");
}

}  // namespace
}  // namespace volt
