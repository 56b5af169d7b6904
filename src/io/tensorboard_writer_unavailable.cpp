// The TensorBoard writer of a build without it (proto/CMakeLists.txt: -DVOLT_TENSORBOARD=OFF, or
// no libprotobuf-dev + protobuf-compiler): constructing one says so, as a build without gloo
// headers does for distributed training.
#include "volt/core/check.h"
#include "volt/io/tensorboard_writer.h"

namespace volt::io {

struct TensorBoardWriter::Impl {
  std::string path;
};

TensorBoardWriter::TensorBoardWriter(const std::string& log_dir, TensorBoardWriterOptions) {
  VOLT_FAIL("[tensorboard] ", log_dir,
            ": this volt was built without TensorBoard event files (-DVOLT_TENSORBOARD=OFF, or "
            "no protobuf); install libprotobuf-dev and protobuf-compiler "
            "(scripts/install-deps.sh) and rebuild with -DVOLT_TENSORBOARD=ON");
}

TensorBoardWriter::~TensorBoardWriter() = default;
const std::string& TensorBoardWriter::path() const { return impl_->path; }
void TensorBoardWriter::add_scalars(const std::map<std::string, double>&, int64_t) {}
void TensorBoardWriter::add_scalar(const std::string&, double, int64_t) {}
void TensorBoardWriter::add_text(const std::string&, const std::string&, int64_t) {}
void TensorBoardWriter::add_hparams(const HParams&) {}
void TensorBoardWriter::add_hparams_experiment(const HParams&, const std::vector<std::string>&) {}
void TensorBoardWriter::add_hparams_end(SessionStatus) {}
void TensorBoardWriter::add_session_start(int64_t) {}
void TensorBoardWriter::flush() {}
void TensorBoardWriter::close() {}

}  // namespace volt::io
