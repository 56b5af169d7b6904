// The config tree: YAML parsing, --a.b=c overrides (typed by YAML), typed reads and their
// errors, unknown-key detection with suggestions, and nearest_key.
#include "volt/core/config.h"

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "test_helpers.h"
#include "volt/core/check.h"

namespace volt {
namespace {

using test::error_of;

#define EXPECT_CONTAINS(haystack, needle)                                              \
  do {                                                                                 \
    const std::string h_ = (haystack);                                                 \
    EXPECT_NE(h_.find(needle), std::string::npos) << "'" << h_ << "' lacks '" << (needle) << "'"; \
  } while (0)

const char* kRecipe =
    "name: demo\n"
    "trainer:\n"
    "  max_steps: 2000\n"
    "  gradient_clip_val: 1.0\n"
    "  precision: 32-true\n"
    "  enable_progress_bar: true\n"
    "model:\n"
    "  preset: babygpt-shakespeare\n"
    "optimizer:\n"
    "  lr: 1.0e-3\n"
    "  betas: [0.9, 0.99]\n";

TEST(Config, ParsesSectionsAndTypedValues) {
  auto c = Config::from_string(kRecipe, "recipe.yaml");
  EXPECT_EQ(c.source(), "recipe.yaml");
  ConfigSection root(c.root(), "", c.source());
  EXPECT_EQ(root.get<std::string>("name", ""), "demo");
  auto t = root.child("trainer");
  EXPECT_EQ(t.path(), "trainer");
  EXPECT_EQ(t.get<int64_t>("max_steps", 0), 2000);
  EXPECT_EQ(t.get<double>("gradient_clip_val", 0), 1.0);
  EXPECT_EQ(t.get<std::string>("precision", ""), "32-true");
  EXPECT_TRUE(t.get<bool>("enable_progress_bar", false));
  EXPECT_EQ(t.get<int64_t>("absent", 77), 77);  // fallback
  EXPECT_TRUE(t.has("max_steps"));
  EXPECT_FALSE(t.has("absent"));
  auto o = root.child("optimizer");
  EXPECT_EQ(o.get<double>("lr", 0), 1e-3);
  EXPECT_EQ(o.get<std::vector<double>>("betas", {}), (std::vector<double>{0.9, 0.99}));
  EXPECT_EQ(root.keys(), (std::vector<std::string>{"name", "trainer", "model", "optimizer"}));
}

TEST(Config, EmptyDocumentIsAnEmptyMapping) {
  auto c = Config::from_string("", "empty.yaml");
  ConfigSection root(c.root(), "", c.source());
  EXPECT_TRUE(root.keys().empty());
  EXPECT_NO_THROW(root.finish());
  auto t = root.child("trainer");  // an absent section reads as empty
  EXPECT_EQ(t.get<int64_t>("max_steps", -1), -1);
}

TEST(Config, OverridesAreTypedAsYaml) {
  auto c = Config::from_string(kRecipe);
  c.set_override("--trainer.max_steps=100");
  c.set_override("optimizer.lr=3e-4");
  c.set_override("--optimizer.betas=[0.8, 0.95]");
  c.set_override("--trainer.precision=bf16-mixed");
  c.set_override("--trainer.enable_progress_bar=false");
  c.set_override("--trainer.default_root_dir=/tmp/runs=x");  // only the first '=' splits
  ConfigSection root(c.root(), "", c.source());
  auto t = root.child("trainer");
  EXPECT_EQ(t.get<int64_t>("max_steps", 0), 100);
  EXPECT_EQ(t.get<std::string>("precision", ""), "bf16-mixed");
  EXPECT_FALSE(t.get<bool>("enable_progress_bar", true));
  EXPECT_EQ(t.get<std::string>("default_root_dir", ""), "/tmp/runs=x");
  EXPECT_EQ(t.get<double>("gradient_clip_val", 0), 1.0);  // untouched siblings stay
  auto o = root.child("optimizer");
  EXPECT_DOUBLE_EQ(o.get<double>("lr", 0), 3e-4);
  EXPECT_EQ(o.get<std::vector<double>>("betas", {}), (std::vector<double>{0.8, 0.95}));
  // The YAML types themselves: an int is not a string-typed "100" that fails as a list, etc.
  EXPECT_TRUE(c.root()["trainer"]["max_steps"].IsScalar());
  EXPECT_TRUE(c.root()["optimizer"]["betas"].IsSequence());
  // A float given where an integer is read is an error, not a truncation.
  c.set_override("trainer.max_steps=2.5");
  ConfigSection root2(c.root(), "", c.source());
  auto t2 = root2.child("trainer");
  EXPECT_CONTAINS(error_of([&] { t2.get<int64_t>("max_steps", 0); }),
                  "key 'trainer.max_steps' has value '2.5' which is not a valid integer");
}

TEST(Config, OverridesCreateMissingSections) {
  Config c;  // defaults: an empty tree
  c.set_override("--a.b.c=1");
  c.set_override("--a.b.d=two");
  c.set_override("--a.e=[1, 2, 3]");
  c.set_override("--top=3");
  ConfigSection root(c.root(), "", c.source());
  auto a = root.child("a");
  auto b = a.child("b");
  EXPECT_EQ(b.get<int64_t>("c", 0), 1);
  EXPECT_EQ(b.get<std::string>("d", ""), "two");
  EXPECT_EQ(a.get<std::vector<int64_t>>("e", {}), (std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(root.get<int64_t>("top", 0), 3);
  EXPECT_EQ(root.keys(), (std::vector<std::string>{"a", "top"}));
  EXPECT_EQ(a.keys(), (std::vector<std::string>{"b", "e"}));
  // The dump shows the created tree and parses back to the same values.
  auto again = Config::from_string(c.dump());
  EXPECT_EQ(again.root()["a"]["b"]["c"].as<int>(), 1);
  EXPECT_EQ(again.root()["a"]["b"]["d"].as<std::string>(), "two");
  EXPECT_EQ(again.root()["a"]["e"].as<std::vector<int>>(), (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(again.root()["top"].as<int>(), 3);
}

TEST(Config, MalformedOverridesAreErrors) {
  auto c = Config::from_string(kRecipe);
  EXPECT_CONTAINS(error_of([&] { c.set_override("--trainer.max_steps"); }),
                  "override '--trainer.max_steps' is not of the form --section.key=value");
  EXPECT_CONTAINS(error_of([&] { c.set_override("--=5"); }), "is not of the form");
  EXPECT_CONTAINS(error_of([&] { c.set_override("--trainer..max_steps=5"); }), "has an empty part");
  // Descending through a scalar is an error naming it (and leaves the scalar alone).
  EXPECT_CONTAINS(error_of([&] { c.set_override("--trainer.max_steps.x=5"); }),
                  "'max_steps' is not a section");
  EXPECT_EQ(c.root()["trainer"]["max_steps"].as<int>(), 2000);
}

TEST(Config, ReadingAnAbsentKeyDoesNotAddIt) {
  auto c = Config::from_string("trainer:\n  max_steps: 5\n");
  ConfigSection root(c.root(), "", c.source());
  auto t = root.child("trainer");
  EXPECT_EQ(t.get<int64_t>("max_epochs", -1), -1);
  EXPECT_EQ(t.keys(), (std::vector<std::string>{"max_steps"}));
  EXPECT_EQ(c.dump().find("max_epochs"), std::string::npos) << c.dump();
}

TEST(Config, UnknownKeyNamesItAndSuggestsTheNearestKnownKey) {
  auto c = Config::from_string("trainer:\n  max_stepz: 5\n  precision: 32-true\n", "run.yaml");
  ConfigSection root(c.root(), "", c.source());
  auto t = root.child("trainer");
  t.get<int64_t>("max_steps", -1);
  t.get<int64_t>("max_epochs", -1);
  t.get<std::string>("precision", "");
  const auto msg = error_of([&] { t.finish(); });
  EXPECT_CONTAINS(msg, "run.yaml");
  EXPECT_CONTAINS(msg, "unknown key 'trainer.max_stepz'");
  EXPECT_CONTAINS(msg, "(did you mean 'trainer.max_steps'?)");
}

TEST(Config, UnknownKeyWithNothingCloseHasNoSuggestion) {
  auto c = Config::from_string("model:\n  n_layer: 2\n  flux_capacitor: 1\n", "run.yaml");
  ConfigSection root(c.root(), "", c.source());
  auto m = root.child("model");
  m.get<int64_t>("n_layer", 0);
  const auto msg = error_of([&] { m.finish(); });
  EXPECT_CONTAINS(msg, "unknown key 'model.flux_capacitor'");
  EXPECT_EQ(msg.find("did you mean"), std::string::npos) << msg;
  // Marked keys count as known; an unknown top-level section is caught at the root.
  m.mark("flux_capacitor");
  EXPECT_NO_THROW(m.finish());
  auto c2 = Config::from_string("modle:\n  n_layer: 2\ntrainer: {}\n", "run.yaml");
  ConfigSection root2(c2.root(), "", c2.source());
  root2.child("model");
  root2.child("trainer");
  const auto top = error_of([&] { root2.finish(); });
  EXPECT_CONTAINS(top, "unknown key 'modle' (did you mean 'model'?)");
}

TEST(Config, InvalidYamlNamesTheSourceAndLine) {
  const auto msg = error_of([] { Config::from_string("a: 1\n b: 2\n", "bad.yaml"); });
  EXPECT_CONTAINS(msg, "bad.yaml");
  EXPECT_CONTAINS(msg, "invalid YAML at line 2");
  const auto msg2 =
      error_of([] { Config::from_string("trainer:\n  max_steps: 10\n  lr: [1, 2\nmodel:\n  x: 1\n", "b2.yaml"); });
  EXPECT_CONTAINS(msg2, "invalid YAML at line 4");
  EXPECT_CONTAINS(error_of([] { Config::from_string("- 1\n- 2\n", "list.yaml"); }),
                  "list.yaml: the top level must be a mapping");
  EXPECT_CONTAINS(error_of([] {
                    auto c = Config::from_string("trainer: 5\n", "s.yaml");
                    ConfigSection root(c.root(), "", c.source());
                    root.child("trainer");
                  }),
                  "'trainer' must be a mapping");
}

TEST(Config, FromFileReadsAndNamesAMissingFile) {
  test::ScopedTempDir dir;
  test::write_text(dir / "r.yaml", kRecipe);
  auto c = Config::from_file(dir / "r.yaml");
  EXPECT_EQ(c.source(), dir / "r.yaml");
  EXPECT_EQ(c.root()["trainer"]["max_steps"].as<int>(), 2000);
  EXPECT_CONTAINS(error_of([&] { Config::from_file(dir / "nope.yaml"); }), dir / "nope.yaml");
  EXPECT_CONTAINS(error_of([&] { Config::from_file(dir / "nope.yaml"); }), "no such file");
}

TEST(Config, WrongTypesNameKeyValueAndExpectedType) {
  auto c = Config::from_string(
      "t:\n  steps: abc\n  flag: maybe\n  lr: fast\n  name: [1, 2]\n  betas: 0.9\n", "types.yaml");
  ConfigSection root(c.root(), "", c.source());
  auto t = root.child("t");
  EXPECT_CONTAINS(error_of([&] { t.get<int64_t>("steps", 0); }),
                  "types.yaml: key 't.steps' has value 'abc' which is not a valid integer");
  EXPECT_CONTAINS(error_of([&] { t.get<bool>("flag", false); }),
                  "key 't.flag' has value 'maybe' which is not a valid boolean");
  EXPECT_CONTAINS(error_of([&] { t.get<double>("lr", 0); }),
                  "key 't.lr' has value 'fast' which is not a valid number");
  EXPECT_CONTAINS(error_of([&] { t.get<std::string>("name", ""); }), "which is not a valid string");
  EXPECT_CONTAINS(error_of([&] { t.get<std::vector<double>>("betas", {}); }), "key 't.betas'");
  EXPECT_CONTAINS(error_of([&] { t.require<int64_t>("missing"); }), "missing required key 't.missing'");
}

TEST(Config, DumpRoundTripsTheTree) {
  auto c = Config::from_string(kRecipe);
  c.set_override("--trainer.max_steps=7");
  auto again = Config::from_string(c.dump());
  EXPECT_EQ(again.root()["trainer"]["max_steps"].as<int>(), 7);
  EXPECT_EQ(again.root()["trainer"]["precision"].as<std::string>(), "32-true");
  EXPECT_EQ(again.root()["optimizer"]["betas"].as<std::vector<double>>(), (std::vector<double>{0.9, 0.99}));
  EXPECT_EQ(again.root()["model"]["preset"].as<std::string>(), "babygpt-shakespeare");
  EXPECT_EQ(c.dump().back(), '\n');
}

TEST(NearestKey, PicksTheClosestPlausibleTypo) {
  const std::vector<std::string> keys{"max_steps", "max_epochs", "max_time", "precision", "seed"};
  EXPECT_EQ(nearest_key("max_stepz", keys), "max_steps");
  EXPECT_EQ(nearest_key("max_step", keys), "max_steps");
  EXPECT_EQ(nearest_key("maxepochs", keys), "max_epochs");
  EXPECT_EQ(nearest_key("precison", keys), "precision");
  EXPECT_EQ(nearest_key("sed", keys), "seed");
  EXPECT_EQ(nearest_key("flux_capacitor", keys), "");
  EXPECT_EQ(nearest_key("anything", {}), "");
  // Short keys: up to 3 edits count as a plausible typo, 4 do not.
  EXPECT_EQ(nearest_key("lr", {"lr_x"}), "lr_x");
  EXPECT_EQ(nearest_key("ab", {"abcdef"}), "");
  // Ties go to the first candidate.
  EXPECT_EQ(nearest_key("ab", {"ax", "ay"}), "ax");
}

}  // namespace
}  // namespace volt
