#include "volt/core/csv_logger.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "volt/core/check.h"

namespace volt {
namespace {

// ctest runs each test in its own process, possibly in parallel: one file per test and process.
class CSVLoggerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ =
        ::testing::TempDir() + "volt_csv_" + info->name() + "_" + std::to_string(getpid()) + ".csv";
    std::remove(path_.c_str());
  }
  void TearDown() override {
    std::remove(path_.c_str());
    std::remove((path_ + ".tmp").c_str());
  }

  std::string read_all() const {
    std::ifstream in(path_);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  void write_all(const std::string& text) const {
    std::ofstream out(path_);
    out << text;
  }
  bool exists(const std::string& path) const { return access(path.c_str(), F_OK) == 0; }

  std::string path_;
};

TEST_F(CSVLoggerTest, RowsAtTheSameStepMerge) {
  CSVLogger logger(path_);
  logger.log(100, 0, {{"train_loss", 2.5}});
  logger.log(100, 0, {{"val_loss", 2.75}});
  logger.log(200, 1, {{"train_loss", 2.25}});
  logger.flush();
  EXPECT_EQ(read_all(),
            "step,epoch,train_loss,val_loss\n"
            "100,0,2.5,2.75\n"
            "200,1,2.25,\n");
}

TEST_F(CSVLoggerTest, NewMetricRewritesTheHeader) {
  CSVLogger logger(path_);
  logger.log(1, 0, {{"z_metric", 1}});
  logger.flush();
  EXPECT_EQ(read_all(), "step,epoch,z_metric\n1,0,1\n");
  logger.log(2, 0, {{"b_metric", 2}});
  EXPECT_EQ(logger.columns(), (std::vector<std::string>{"step", "epoch", "b_metric", "z_metric"}));
  EXPECT_EQ(read_all(), "step,epoch,z_metric\n1,0,1\n");  // nothing before the flush
  logger.flush();
  EXPECT_EQ(read_all(), "step,epoch,b_metric,z_metric\n1,0,,1\n2,0,2,\n");
  EXPECT_FALSE(exists(path_ + ".tmp"));
}

TEST_F(CSVLoggerTest, NothingWrittenUntilSomethingIsLogged) {
  {
    CSVLogger logger(path_);
    EXPECT_EQ(logger.columns(), (std::vector<std::string>{"step", "epoch"}));
    logger.flush();
  }
  EXPECT_FALSE(exists(path_));
}

TEST_F(CSVLoggerTest, DestructorFlushes) {
  { CSVLogger(path_).log(5, 0, {{"loss", 1.5}}); }
  EXPECT_EQ(read_all(), "step,epoch,loss\n5,0,1.5\n");
}

TEST_F(CSVLoggerTest, RowsAreInStepOrderAndLaterValuesWin) {
  CSVLogger logger(path_);
  logger.log(20, 0, {{"loss", 2}});
  logger.log(10, 0, {{"loss", 1}});
  logger.log(20, 1, {{"loss", 3}});
  logger.flush();
  EXPECT_EQ(read_all(), "step,epoch,loss\n10,0,1\n20,1,3\n");
}

TEST_F(CSVLoggerTest, ReadBack) {
  CSVLogger logger(path_);
  logger.log(0, 0, {{"loss", 0.1234567891234}, {"lr", 6e-4}});
  logger.log(50, 0, {{"val_loss", NAN}});
  logger.log(100, 1, {{"loss", -1e-30}, {"lr", 1e12}});
  logger.flush();
  const auto rows = CSVLogger::read(path_);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].size(), 4u);
  EXPECT_EQ(rows[0].at("step"), 0);
  EXPECT_DOUBLE_EQ(rows[0].at("loss"), 0.123456789);  // %.9g
  EXPECT_DOUBLE_EQ(rows[0].at("lr"), 6e-4);
  EXPECT_EQ(rows[1].size(), 3u);  // empty loss and lr cells are absent
  EXPECT_EQ(rows[1].count("loss"), 0u);
  EXPECT_TRUE(std::isnan(rows[1].at("val_loss")));
  EXPECT_EQ(rows[2].at("epoch"), 1);
  EXPECT_DOUBLE_EQ(rows[2].at("loss"), -1e-30);
  EXPECT_DOUBLE_EQ(rows[2].at("lr"), 1e12);
}

TEST_F(CSVLoggerTest, ReadToleratesCrlfAndBlankLines) {
  write_all("step,epoch,loss\r\n1,0,2.5\r\n\r\n2,0,\r\n");
  const auto rows = CSVLogger::read(path_);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_DOUBLE_EQ(rows[0].at("loss"), 2.5);
  EXPECT_EQ(rows[1].count("loss"), 0u);
}

TEST_F(CSVLoggerTest, ReadRejectsMalformedFiles) {
  EXPECT_THROW(CSVLogger::read(path_), volt::Error);  // missing
  write_all("step,epoch,loss\n1,0,abc\n");
  try {
    CSVLogger::read(path_);
    FAIL() << "expected volt::Error";
  } catch (const volt::Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find(":2: column 'loss': 'abc'"), std::string::npos) << what;
  }
  write_all("step,epoch,loss\n1,0\n");
  EXPECT_THROW(CSVLogger::read(path_), volt::Error);
  write_all("step,epoch,loss\n1,0,2.5x\n");
  EXPECT_THROW(CSVLogger::read(path_), volt::Error);
}

TEST_F(CSVLoggerTest, BadMetricNamesAreErrors) {
  CSVLogger logger(path_);
  EXPECT_THROW(logger.log(1, 0, {{"a,b", 1}}), volt::Error);
  EXPECT_THROW(logger.log(1, 0, {{"step", 1}}), volt::Error);
  EXPECT_THROW(logger.log(1, 0, {{"", 1}}), volt::Error);
  EXPECT_THROW(logger.log(1, 0, {{"ok", 1}, {"quo\"te", 1}}), volt::Error);
  EXPECT_EQ(logger.columns().size(), 2u);  // a rejected call changes nothing
  logger.flush();
  EXPECT_FALSE(exists(path_));
}

TEST_F(CSVLoggerTest, LoadExistingDropsRowsAfterTheResumeStep) {
  {
    CSVLogger first(path_);
    for (int64_t step = 10; step <= 50; step += 10) first.log(step, 0, {{"loss", 1.0 * step}});
    first.log(30, 0, {{"val_loss", 7}});
  }
  CSVLogger resumed(path_);
  resumed.load_existing(30);
  EXPECT_EQ(resumed.columns(), (std::vector<std::string>{"step", "epoch", "loss", "val_loss"}));
  resumed.log(40, 1, {{"loss", 41}});
  resumed.flush();
  EXPECT_EQ(read_all(),
            "step,epoch,loss,val_loss\n"
            "10,0,10,\n"
            "20,0,20,\n"
            "30,0,30,7\n"
            "40,1,41,\n");
}

TEST_F(CSVLoggerTest, LoadExistingWithoutAFileIsANoOp) {
  CSVLogger logger(path_);
  logger.load_existing();
  EXPECT_EQ(logger.columns().size(), 2u);
}

TEST_F(CSVLoggerTest, UnwritablePathIsAnError) {
  CSVLogger logger("/nonexistent-dir/metrics.csv");
  logger.log(1, 0, {{"loss", 1}});
  EXPECT_THROW(logger.flush(), volt::Error);
  EXPECT_THROW(logger.flush(), volt::Error);  // still pending: a later flush retries
}

}  // namespace
}  // namespace volt
