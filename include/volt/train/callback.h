// Lightning's Callback: hooks the Trainer calls at fixed points of the loop, in this order:
//   on_fit_start, on_train_start,
//     [on_train_epoch_start, (on_train_batch_start, on_before_backward, on_after_backward,
//      on_before_optimizer_step, on_train_batch_end)*, on_validation_start,
//      on_validation_batch_end*, on_validation_end, on_train_epoch_end]*,
//   on_train_end, on_fit_end.
// on_train_batch_start/_end wrap one optimizer step (all its accumulated micro-batches).
#pragma once

#include <nlohmann/json.hpp>

#include <string>

#include "volt/data/batch.h"

namespace volt {

class Trainer;
class LightningModule;

class Callback {
 public:
  virtual ~Callback() = default;
  virtual std::string name() const = 0;
  virtual void on_fit_start(Trainer&, LightningModule&) {}
  virtual void on_fit_end(Trainer&, LightningModule&) {}
  virtual void on_train_start(Trainer&, LightningModule&) {}
  virtual void on_train_end(Trainer&, LightningModule&) {}
  virtual void on_train_epoch_start(Trainer&, LightningModule&) {}
  virtual void on_train_epoch_end(Trainer&, LightningModule&) {}
  virtual void on_train_batch_start(Trainer&, LightningModule&, const Batch&, int64_t batch_idx) {}
  virtual void on_train_batch_end(Trainer&, LightningModule&, const torch::Tensor& loss,
                                  const Batch&, int64_t batch_idx) {}
  virtual void on_before_backward(Trainer&, LightningModule&, const torch::Tensor& loss) {}
  virtual void on_after_backward(Trainer&, LightningModule&) {}
  virtual void on_before_optimizer_step(Trainer&, LightningModule&) {}
  virtual void on_validation_start(Trainer&, LightningModule&) {}
  virtual void on_validation_batch_end(Trainer&, LightningModule&, const Batch&, int64_t batch_idx) {}
  virtual void on_validation_end(Trainer&, LightningModule&) {}
  /// Adds this callback's state to a checkpoint / restores it on resume.
  virtual void state_dict(nlohmann::json& state) const {}
  virtual void load_state_dict(const nlohmann::json& state) {}
};

}  // namespace volt
