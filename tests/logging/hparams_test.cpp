// flatten_hparams: the resolved config as the flat, typed map that loggers record.
#include "volt/core/hparams.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <limits>
#include <sstream>

#include "logging_test_util.h"
#include "test_util.h"

namespace volt {
namespace {

TEST(FlattenHParams, NestedKeysJoinWithDots) {
  const HParams h = flatten_hparams(
      "name: run\n"
      "trainer:\n  max_steps: 100\n  precision: bf16-mixed\n"
      "optimizer:\n  lr: 3.0e-4\n  betas: [0.9, 0.95]\n  nested:\n    deep: true\n");
  EXPECT_EQ(h, (HParams{{"name", std::string("run")},
                        {"trainer.max_steps", 100.0},
                        {"trainer.precision", std::string("bf16-mixed")},
                        {"optimizer.lr", 3.0e-4},
                        {"optimizer.betas", std::string("[0.9, 0.95]")},
                        {"optimizer.nested.deep", true}}));
}

TEST(FlattenHParams, ScalarsFollowYaml12CoreTypes) {
  const HParams h = flatten_hparams(
      "a: true\nb: False\nc: yes\nd: n\ne: -12\nf: +1.5e3\ng: .inf\nh: -.inf\ni: .nan\n"
      "j: nan\nk: 0x1F\nl: '42'\nm: \"true\"\nn: 1.2.3\no: 32-true\np: e5\n");
  EXPECT_EQ(h.at("a"), HParamValue(true));
  EXPECT_EQ(h.at("b"), HParamValue(false));
  EXPECT_EQ(h.at("c"), HParamValue(std::string("yes")));  // YAML 1.1's bool: a string here
  EXPECT_EQ(h.at("d"), HParamValue(std::string("n")));
  EXPECT_EQ(h.at("e"), HParamValue(-12.0));
  EXPECT_EQ(h.at("f"), HParamValue(1500.0));
  EXPECT_EQ(h.at("g"), HParamValue(std::numeric_limits<double>::infinity()));
  EXPECT_EQ(h.at("h"), HParamValue(-std::numeric_limits<double>::infinity()));
  EXPECT_TRUE(std::isnan(std::get<double>(h.at("i"))));
  EXPECT_EQ(h.at("j"), HParamValue(std::string("nan")));
  EXPECT_EQ(h.at("k"), HParamValue(std::string("0x1F")));
  EXPECT_EQ(h.at("l"), HParamValue(std::string("42")));  // quoted: a string
  EXPECT_EQ(h.at("m"), HParamValue(std::string("true")));
  EXPECT_EQ(h.at("n"), HParamValue(std::string("1.2.3")));
  EXPECT_EQ(h.at("o"), HParamValue(std::string("32-true")));
  EXPECT_EQ(h.at("p"), HParamValue(std::string("e5")));
}

TEST(FlattenHParams, NullsAndEmptyMappingsAreLeftOut) {
  const HParams h = flatten_hparams("a: ~\nb:\nc: {}\nd: []\ne: {x: null, y: 1}\n");
  EXPECT_EQ(h, (HParams{{"d", std::string("[]")}, {"e.y", 1.0}}));
  EXPECT_TRUE(flatten_hparams("").empty());
}

TEST(FlattenHParams, ListsOfMappingsBecomeFlowText) {
  const HParams h = flatten_hparams("callbacks:\n  - name: ckpt\n    every: 2\n");
  EXPECT_EQ(h.at("callbacks"), HParamValue(std::string("[{name: ckpt, every: 2}]")));
}

TEST(FlattenHParams, ARealRecipe) {
  std::ifstream in(std::string(VOLT_SOURCE_DIR) + "/configs/babygpt-finetune-shakespeare.yaml");
  ASSERT_TRUE(in.is_open()) << "configs/babygpt-finetune-shakespeare.yaml is missing";
  std::stringstream yaml;
  yaml << in.rdbuf();
  const HParams h = flatten_hparams(yaml.str(), "babygpt-finetune-shakespeare.yaml");
  EXPECT_EQ(h.at("name"), HParamValue(std::string("babygpt-finetune-shakespeare")));
  EXPECT_EQ(h.at("trainer.max_steps"), HParamValue(300.0));
  EXPECT_EQ(h.at("trainer.precision"), HParamValue(std::string("32-true")));
  EXPECT_EQ(h.at("optimizer.lr"), HParamValue(1.0e-3));
  EXPECT_EQ(h.at("optimizer.betas"), HParamValue(std::string("[0.9, 0.99]")));
}

TEST(FlattenHParams, BadInputIsAnError) {
  EXPECT_ERROR(flatten_hparams("a: [1, 2", "r.yaml"), "[hparams] r.yaml");
  EXPECT_ERROR(flatten_hparams("just text", "r.yaml"), "the top level must be a mapping");
  EXPECT_ERROR(flatten_hparams("- a\n- b\n", "r.yaml"), "the top level must be a mapping");
}

}  // namespace
}  // namespace volt
