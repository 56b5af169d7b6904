// c10d's headers need USE_C10D_GLOO (CMakeLists.txt defines it for this file) and are compiled
// without the precompiled header.
#include "volt/dist/process_group.h"

#if VOLT_HAVE_GLOO
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#endif

#include <cstdlib>
#include <mutex>

#include "volt/core/check.h"
#include "volt/core/compat.h"

namespace volt::dist {

namespace {

// Gloo in LibTorch 1.13 reduces only 32/64-bit types: 16-bit floats travel as fp32.
bool needs_fp32_wire(const torch::Tensor& t) {
  return t.device().is_cpu() &&
         (t.scalar_type() == torch::kBFloat16 || t.scalar_type() == torch::kHalf);
}

void check_reduce_scatter_input(const torch::Tensor& in, int64_t world) {
  VOLT_CHECK(in.numel() % world == 0, "[dist] reduce_scatter of ", in.numel(), " values over ",
             world, " ranks: pad to a multiple first");
}

#if VOLT_HAVE_GLOO

class GlooGroup : public ProcessGroup {
 public:
  GlooGroup(const DistEnv& env, std::chrono::milliseconds timeout) : ProcessGroup(env) {
    c10d::TCPStoreOptions so;
    so.port = static_cast<uint16_t>(env.master_port);
    so.isServer = env.rank == 0;
    so.numWorkers = static_cast<size_t>(env.world_size);
    so.waitWorkers = true;
    so.timeout = timeout;
#if VOLT_TCPSTORE_DEFAULTS_TO_LIBUV
    so.useLibUV = false;  // not in every 2.x build (compat.h)
#endif
    try {
      store_ = c10::make_intrusive<c10d::TCPStore>(env.master_addr, so);
      auto opts = c10d::ProcessGroupGloo::Options::create();
      opts->timeout = timeout;
      // GLOO_SOCKET_IFNAME picks the interface, as in PyTorch; one machine talks over loopback.
      if (const char* ifname = std::getenv("GLOO_SOCKET_IFNAME");
          ifname != nullptr && *ifname != '\0') {
        opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
      } else if (env.master_addr == "127.0.0.1" || env.master_addr == "localhost") {
        opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
      } else {
        opts->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
      }
      pg_ = c10::make_intrusive<c10d::ProcessGroupGloo>(store_, static_cast<int>(env.rank),
                                                        static_cast<int>(env.world_size), opts);
    } catch (const std::exception& e) {
      VOLT_FAIL("[dist] rank ", env.rank, " of ", env.world_size, " could not join the group at ",
                env.master_addr, ":", env.master_port, " (", env.source, "): ", e.what());
    }
  }

  void all_reduce_sum(torch::Tensor& t) override { all_reduce_sum_async(t)->wait(); }

  std::unique_ptr<Pending> all_reduce_sum_async(torch::Tensor& t) override {
    struct Work : Pending {
      c10::intrusive_ptr<c10d::Work> work;
      torch::Tensor target, wire;
      void wait() override {
        work->wait();
        if (!wire.is_same(target)) target.copy_(wire);
      }
    };
    auto w = std::make_unique<Work>();
    w->target = t;
    w->wire = needs_fp32_wire(t) || !t.is_contiguous() ? t.to(torch::kFloat32).contiguous() : t;
    std::vector<torch::Tensor> v{w->wire};
    w->work = pg_->allreduce(v);
    return w;
  }

  void broadcast(torch::Tensor& t, int64_t root) override {
    auto wire = needs_fp32_wire(t) || !t.is_contiguous() ? t.to(torch::kFloat32).contiguous() : t;
    std::vector<torch::Tensor> v{wire};
    c10d::BroadcastOptions o;
    o.rootRank = root;
    pg_->broadcast(v, o)->wait();
    if (!wire.is_same(t)) t.copy_(wire);
  }

  std::vector<torch::Tensor> all_gather(const torch::Tensor& in) override {
    auto wire = needs_fp32_wire(in) ? in.to(torch::kFloat32).contiguous() : in.contiguous();
    std::vector<std::vector<torch::Tensor>> out(1);
    for (int64_t r = 0; r < size(); ++r) out[0].push_back(torch::empty_like(wire));
    std::vector<torch::Tensor> v{wire};
    pg_->allgather(out, v)->wait();
    for (auto& t : out[0]) t = t.to(in.scalar_type());
    return out[0];
  }

  torch::Tensor reduce_scatter_sum(const torch::Tensor& in) override {
#if VOLT_GLOO_HAS_REDUCE_SCATTER
    check_reduce_scatter_input(in, size());
    // c10d copies the input before it reduces, so a wire that is `in` itself stays unchanged.
    auto wire =
        in.to(needs_fp32_wire(in) ? torch::kFloat32 : in.scalar_type()).contiguous().view(-1);
    auto out = torch::empty({in.numel() / size()}, wire.options());
    pg_->_reduce_scatter_base(out, wire)->wait();
    return out.to(in.scalar_type());
#else
    return reduce_scatter_sum_by_all_reduce(in);  // 1.13's Gloo has no reduce-scatter
#endif
  }

  void barrier() override { pg_->barrier()->wait(); }

  std::string broadcast_string(const std::string& value, int64_t root) override {
    const std::string key = "volt/broadcast/" + std::to_string(sequence_++);
    if (rank() == root) store_->set(key, std::vector<uint8_t>(value.begin(), value.end()));
    const auto bytes = store_->get(key);
    return std::string(bytes.begin(), bytes.end());
  }

 private:
  c10::intrusive_ptr<c10d::TCPStore> store_;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> pg_;
  int64_t sequence_ = 0;
};

#endif  // VOLT_HAVE_GLOO

}  // namespace

torch::Tensor ProcessGroup::reduce_scatter_sum_by_all_reduce(const torch::Tensor& in) {
  check_reduce_scatter_input(in, size());
  auto sum = in.to(needs_fp32_wire(in) ? torch::kFloat32 : in.scalar_type()).contiguous().clone();
  all_reduce_sum(sum);
  const int64_t n = in.numel() / size();
  return sum.view(-1).slice(0, rank() * n, (rank() + 1) * n).to(in.scalar_type()).clone();
}

namespace {

std::mutex default_mutex;
std::shared_ptr<ProcessGroup> default_pg;
bool default_initialized = false;

}  // namespace

std::shared_ptr<ProcessGroup> ProcessGroup::create(const DistEnv& env,
                                                   std::chrono::milliseconds timeout) {
#if VOLT_HAVE_GLOO
  return std::make_shared<GlooGroup>(env, timeout);
#else
  (void)timeout;
  VOLT_FAIL("[dist] rank ", env.rank,
            ": this build of volt has no Gloo (CMake found no gloo headers: install "
            "libgloo-dev, or carry its headers to this machine) and cannot join a process group");
#endif
}

std::shared_ptr<ProcessGroup> default_group() {
  std::lock_guard<std::mutex> lock(default_mutex);
  if (!default_initialized) {
    default_initialized = true;
    const auto env = env_from();
    if (env.distributed()) {
      long timeout_s = 300;
      if (const char* t = std::getenv("VOLT_DIST_TIMEOUT"); t != nullptr && *t != '\0')
        timeout_s = std::atol(t);
      default_pg = ProcessGroup::create(env, std::chrono::seconds(timeout_s));
    }
  }
  return default_pg;
}

void set_default_group(std::shared_ptr<ProcessGroup> group) {
  std::lock_guard<std::mutex> lock(default_mutex);
  default_initialized = true;
  default_pg = std::move(group);
}

}  // namespace volt::dist
