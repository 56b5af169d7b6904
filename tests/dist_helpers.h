// Helpers of the distributed tests: several ranks as threads of one process, each with its own
// Gloo group over loopback, and a column of a metrics.csv.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "volt/core/csv_logger.h"
#include "volt/dist/launch.h"
#include "volt/dist/process_group.h"

namespace volt::test {

// Runs fn(group) on `world` ranks, each a thread with its own Gloo group over loopback.
inline void on_ranks(int64_t world, const std::function<void(dist::ProcessGroup&)>& fn) {
  const int port = dist::free_port();
  std::vector<std::thread> threads;
  std::vector<std::string> errors(static_cast<size_t>(world));
  for (int64_t r = 0; r < world; ++r) {
    threads.emplace_back([&, r] {
      try {
        dist::DistEnv e;
        e.rank = r, e.world_size = world, e.local_rank = r, e.local_world_size = world;
        e.master_port = port, e.source = "torchrun";
        auto g = dist::ProcessGroup::create(e, std::chrono::seconds(30));
        fn(*g);
      } catch (const std::exception& ex) {
        errors[static_cast<size_t>(r)] = ex.what();
      }
    });
  }
  for (auto& t : threads) t.join();
  for (int64_t r = 0; r < world; ++r) EXPECT_EQ(errors[static_cast<size_t>(r)], "") << "rank " << r;
}

// One metric of metrics.csv, the rows that have it, in step order.
inline std::vector<double> column(const std::string& csv, const std::string& name) {
  std::vector<double> out;
  for (const auto& row : CSVLogger::read(csv)) {
    if (auto it = row.find(name); it != row.end()) out.push_back(it->second);
  }
  return out;
}

}  // namespace volt::test
