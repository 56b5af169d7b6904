// Chat templates against jinja2 set up as transformers sets it up: every golden render in
// tests/goldens/chat_templates/ (written by scripts/chat-template-goldens/make_goldens.py) must be
// equal byte for byte, every golden error must be an error of the same kind (and, for
// raise_exception, the same message), and the assistant spans must be the ones the script
// computed independently. Unit tests pin down the language pieces and the sandbox's limits.
#include "volt/tokenizers/chat_template.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "test_data.h"
#include "volt/core/check.h"

namespace volt {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

// tests/goldens/chat_templates: env VOLT_GOLDENS_DIR (tests/goldens), else beside this file.
fs::path goldens_dir() {
  if (const char* env = std::getenv("VOLT_GOLDENS_DIR"); env != nullptr && *env != '\0') {
    return fs::path(env) / "chat_templates";
  }
  return fs::path(__FILE__).parent_path().parent_path() / "goldens" / "chat_templates";
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path.string());
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

Json read_json(const fs::path& path) { return Json::parse(read_file(path)); }

// The date the goldens pin strftime_now to.
std::tm golden_date() {
  std::tm t{};
  t.tm_year = 2024 - 1900;
  t.tm_mon = 6;
  t.tm_mday = 26;
  return t;
}

ChatRenderOptions pinned() {
  ChatRenderOptions o;
  o.now = golden_date();
  return o;
}

std::string render(const std::string& source, const Json& messages = Json::array(),
                   ChatRenderOptions o = pinned()) {
  return ChatTemplate(source, "test").render(messages, o);
}

// The message of the error a render throws ("" when it renders).
std::string render_error(const std::string& source, const Json& messages = Json::array(),
                         ChatRenderOptions o = pinned()) {
  try {
    render(source, messages, o);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

// ---------------------------------------------------------------- the goldens

struct GoldenFile {
  std::string name;
  fs::path path;
  std::string problem;
};

void PrintTo(const GoldenFile& g, std::ostream* os) {
  *os << (g.path.empty() ? g.problem : g.path.string());
}

std::vector<GoldenFile> discover_goldens() {
  const fs::path dir = goldens_dir();
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    return {{"missing_goldens", {}, dir.string() + " does not exist (env VOLT_GOLDENS_DIR)"}};
  std::vector<GoldenFile> out;
  for (const auto& f : fs::directory_iterator(dir)) {
    const std::string stem = f.path().stem().string();
    if (f.path().extension() != ".json" || stem == "conversations" || stem == "language") continue;
    out.push_back({stem, f.path(), ""});
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  if (out.empty()) return {{"missing_goldens", {}, "no golden under " + dir.string()}};
  return out;
}

// The template a golden names, with the special tokens it was rendered with.
ChatTemplate load_golden_template(const Json& golden) {
  const Json& source = golden.at("source");
  if (source.contains("tokenizer_config")) {
    return ChatTemplate::from_tokenizer_config(
        volt_test_data(source.at("tokenizer_config").get<std::string>()));
  }
  const std::string file = source.at("file").get<std::string>();
  ChatTemplate t(read_file(goldens_dir() / file), file);
  const std::string config_dir = volt_test_data(source.at("special_tokens_of").get<std::string>());
  t.set_special_tokens(
      special_tokens_from_config(read_json(fs::path(config_dir) / "tokenizer_config.json")));
  return t;
}

ChatRenderOptions golden_options(const Json& c) {
  ChatRenderOptions o = pinned();
  o.add_generation_prompt = c.at("add_generation_prompt").get<bool>();
  o.tools = c.at("tools");
  o.extra = c.at("extra");
  return o;
}

class ChatTemplateGolden : public ::testing::TestWithParam<GoldenFile> {};

TEST_P(ChatTemplateGolden, RendersAndSpansAsJinja2) {
  const GoldenFile& g = GetParam();
  ASSERT_TRUE(g.problem.empty()) << g.problem;
  const Json golden = read_json(g.path);
  const Json conversations = read_json(goldens_dir() / "conversations.json");
  const ChatTemplate t = load_golden_template(golden);
  EXPECT_EQ(t.special_tokens().dump(), golden.at("special_tokens").dump())
      << g.name << ": special tokens";
  size_t checked = 0;
  for (const auto& c : golden.at("cases")) {
    const std::string id = g.name + " " + c.at("id").get<std::string>();
    const Json& messages = conversations.at(c.at("conversation").get<std::string>());
    const ChatRenderOptions o = golden_options(c);
    if (c.contains("error")) {
      const std::string type = c["error"]["type"], message = c["error"]["message"];
      try {
        t.render(messages, o);
        ADD_FAILURE() << id << ": renders, jinja2 raises " << type << ": " << message;
      } catch (const Error& e) {
        EXPECT_TRUE(contains(e.what(), type + ": "))
            << id << ": " << e.what() << "\njinja2: " << type;
        if (type == "TemplateError") {
          EXPECT_TRUE(contains(e.what(), message)) << id << ": " << e.what();
        }
      }
      ++checked;
      continue;
    }
    std::string text;
    EXPECT_NO_THROW(text = t.render(messages, o)) << id;
    EXPECT_EQ(text, c.at("text").get<std::string>()) << id;
    if (c.contains("span_error")) {
      EXPECT_THROW(t.render_with_spans(messages, o), Error) << id << ": " << c["span_error"];
    } else {
      ChatRender r;
      EXPECT_NO_THROW(r = t.render_with_spans(messages, o)) << id;
      EXPECT_EQ(r.text, text) << id;
      EXPECT_EQ(to_string(r.method), c.at("span_method").get<std::string>()) << id;
      Json spans = Json::array();
      for (const auto& s : r.spans) spans.push_back({s.begin, s.end, s.message_index});
      EXPECT_EQ(spans.dump(), c.at("spans").dump()) << id;
    }
    ++checked;
  }
  EXPECT_GE(checked, 20u) << g.name;
}

INSTANTIATE_TEST_SUITE_P(Goldens, ChatTemplateGolden, ::testing::ValuesIn(discover_goldens()),
                         [](const ::testing::TestParamInfo<GoldenFile>& info) {
                           return info.param.name;
                         });

// Small templates, one language piece each, against jinja2 (language.json).
TEST(ChatTemplateLanguage, EveryPieceRendersAsJinja2) {
  const Json cases = read_json(goldens_dir() / "language.json");
  ASSERT_GE(cases.size(), 100u);
  for (const auto& c : cases) {
    const std::string source = c.at("template");
    Json variables = c.at("variables");
    Json messages = Json::array();
    if (variables.contains("messages")) {
      messages = variables["messages"];
      variables.erase("messages");
    }
    ChatRenderOptions o = pinned();
    if (variables.contains("tools")) {
      o.tools = variables["tools"];
      variables.erase("tools");
    }
    o.extra = variables;
    if (c.contains("error")) {
      const std::string type = c["error"]["type"], message = c["error"]["message"];
      const std::string err = render_error(source, messages, o);
      EXPECT_TRUE(contains(err, type + ": "))
          << source << "\nvolt: " << err << "\njinja2: " << type << ": " << message;
      if (type == "TemplateError") {
        EXPECT_TRUE(contains(err, message)) << source << "\nvolt: " << err;
      }
      continue;
    }
    std::string text;
    EXPECT_NO_THROW(text = render(source, messages, o)) << source;
    EXPECT_EQ(text, c.at("text").get<std::string>()) << source;
  }
}

// ---------------------------------------------------------------- language pieces

TEST(ChatTemplate, TrimBlocksAndLstripBlocksAsTransformersSetsThem) {
  // The newline after a block tag goes, and so does the indentation before it.
  EXPECT_EQ(render("{% for x in [1, 2] %}\n  {{ x }}\n{% endfor %}\n"), "  1\n  2\n");
  EXPECT_EQ(render("a\n    {% if true %}\nb\n    {% endif %}\nc"), "a\nb\nc");
  // Not the newline after {{ }}; `+` keeps the indentation, `+%}` the newline.
  EXPECT_EQ(render("{{ 1 }}\n{{ 2 }}"), "1\n2");
  EXPECT_EQ(render("a\n  {%+ if true %}b{% endif %}"), "a\n  b");
  EXPECT_EQ(render("{% if true +%}\nb{% endif %}"), "\nb");
  // `-` strips every whitespace character on its side, newlines included.
  EXPECT_EQ(render("a \n\t{{- 'b' -}} \n c"), "abc");
  // One trailing newline of the template is dropped, as jinja2 does.
  EXPECT_EQ(render("x\n\n"), "x\n");
  EXPECT_EQ(render("{# a comment #}\nx"), "x");
  EXPECT_EQ(render("{% raw %}{{ kept }}{% endraw %}"), "{{ kept }}");
}

TEST(ChatTemplate, PrintsValuesAsPython) {
  EXPECT_EQ(render("{{ none }} {{ true }} {{ 1.0 }} {{ 1e16 }} {{ 0.00001 }} {{ 1/3 }}"),
            "None True 1.0 1e+16 1e-05 0.3333333333333333");
  EXPECT_EQ(render("{{ ['a', \"b'c\", 1, none, {'k': (1,)}] }}"),
            "['a', \"b'c\", 1, None, {'k': (1,)}]");
  EXPECT_EQ(render("{{ ['\\n', '\\u00a0', '\u00e9'] }}"), "['\\n', '\\xa0', '\u00e9']");
  EXPECT_EQ(render("{{ {'a': 1.5} | tojson }} {{ 'é' | tojson }} {{ [1] | tojson(indent=2) }}"),
            "{\"a\": 1.5} \"\u00e9\" [\n  1\n]");
}

TEST(ChatTemplate, LoopsNamespacesAndScopes) {
  EXPECT_EQ(render("{% for x in 'ab' %}{{ loop.index }}{{ x }}{{ loop.last }}{% endfor %}"),
            "1aFalse2bTrue");
  EXPECT_EQ(render("{% set x = 1 %}{% for i in [2] %}{% set x = i %}{% endfor %}{{ x }}"), "1");
  EXPECT_EQ(render("{% set ns = namespace(x=1) %}{% for i in [2] %}{% set ns.x = i %}{% endfor "
                   "%}{{ ns.x }}"),
            "2");
  EXPECT_EQ(render("{% for i in range(5) %}{% if i == 1 %}{% continue %}{% elif i == 3 %}{% break "
                   "%}{% endif %}"
                   "{{ i }}{% endfor %}"),
            "02");
  EXPECT_EQ(render("{% for x in [] %}a{% else %}empty{% endfor %}"), "empty");
}

TEST(ChatTemplate, MacrosAndCallBlocks) {
  EXPECT_EQ(render("{% macro tag(name, v='x') %}<{{ name }}={{ v }}>{% endmacro %}{{ tag('a') }}{{ "
                   "tag('b', v=2) }}"),
            "<a=x><b=2>");
  EXPECT_EQ(
      render("{% macro box() %}[{{ caller() }}]{% endmacro %}{% call box() %}in{% endcall %}"),
      "[in]");
}

TEST(ChatTemplate, StringMethodsAsPython) {
  EXPECT_EQ(
      render("{{ '\\n\\n  x'.lstrip('\\n') }}|{{ 'a b  c'.split() }}|{{ 'a:b:c'.rsplit(':', 1) }}"),
      "  x|['a', 'b', 'c']|['a:b', 'c']");
  EXPECT_EQ(render("{{ 'abc'.startswith(('x', 'ab')) }}{{ 'ΣΑΣ'.lower() }}{{ 'ß'.upper() }}"),
            "TrueσαςSS");
}

TEST(ChatTemplate, SlicingAndUndefined) {
  EXPECT_EQ(render("{{ 'héllo'[1:3] }}{{ [1, 2, 3][::-1] }}{{ [1, 2][-1] }}"), "él[3, 2, 1]2");
  EXPECT_EQ(
      render("[{{ missing }}][{{ missing is defined }}][{{ missing | default('d') }}][{{ {}.x }}]"),
      "[][False][d][]");
  EXPECT_TRUE(
      contains(render_error("{{ missing.attr }}"), "UndefinedError: 'missing' is undefined"));
}

TEST(ChatTemplate, RaiseExceptionNamesTemplateLineAndMessage) {
  const std::string err = render_error("line one\n{{ raise_exception('roles must alternate') }}");
  EXPECT_EQ(err, "[chat_template] test line 2: TemplateError: roles must alternate");
}

TEST(ChatTemplate, UnsupportedConstructsNameThemselvesAndTheLine) {
  EXPECT_TRUE(contains(render_error("x\n{% include 'other.jinja' %}"), "line 2"));
  EXPECT_TRUE(
      contains(render_error("{% include 'other.jinja' %}"), "'{% include %}' is not supported"));
  EXPECT_TRUE(contains(render_error("{% extends 'base' %}"), "'{% extends %}' is not supported"));
  EXPECT_TRUE(contains(render_error("{% for x in y recursive %}{% endfor %}"), "recursive loops"));
  EXPECT_TRUE(contains(render_error("{{ 'x' | urlize }}"), "the filter 'urlize' is not supported"));
  EXPECT_TRUE(contains(render_error("{{ f(*args) }}"), "*args"));
  EXPECT_TRUE(contains(render_error("{% do x %}"), "unknown tag 'do'"));
}

TEST(ChatTemplate, TheImmutableSandboxRefusesMutation) {
  const std::string err = render_error("{{ messages.append(1) }}", Json::array());
  EXPECT_TRUE(
      contains(err, "SecurityError: access to attribute 'append' of 'list' object is unsafe."))
      << err;
  EXPECT_TRUE(contains(render_error("{{ {}.update({'a': 1}) }}"), "SecurityError"));
  EXPECT_EQ(render("{{ ''.__class__ }}"),
            "");  // printing an unsafe attribute prints nothing, as jinja2
}

TEST(ChatTemplate, LimitsBoundLoopsOutputAndRecursion) {
  ChatRenderOptions o = pinned();
  o.limits.max_loop_iterations = 1000;
  EXPECT_TRUE(contains(
      render_error("{% for i in range(100) %}{% for j in range(100) %}{% endfor %}{% endfor %}",
                   Json::array(), o),
      "max_loop_iterations (1000)"));
  o = pinned();
  o.limits.max_output_bytes = 100;
  EXPECT_TRUE(
      contains(render_error("{% for i in range(50) %}{{ 'abc' }}{% endfor %}", Json::array(), o),
               "max_output_bytes (100"));
  EXPECT_TRUE(contains(render_error("{{ 'x' * 1000 }}", Json::array(), o), "limit of 100"));
  o = pinned();
  o.limits.max_call_depth = 10;
  EXPECT_TRUE(contains(
      render_error("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", Json::array(), o),
      "max_call_depth (10)"));
  // Deeply nested syntax and data fail cleanly instead of exhausting the stack.
  EXPECT_TRUE(
      contains(render_error("{{ " + std::string(5000, '(') + "1" + std::string(5000, ')') + " }}"),
               "nests deeper"));
  EXPECT_TRUE(contains(render_error("{% set ns = namespace(x=[]) %}{% for i in range(1000) %}"
                                    "{% set ns.x = [ns.x] %}{% endfor %}"),
                       "RecursionError"));
  EXPECT_TRUE(contains(render_error("{{ range(100001) }}"), "MAX_RANGE"));
}

TEST(ChatTemplate, StrftimeNowUsesThePinnedDate) {
  EXPECT_EQ(render("{{ strftime_now('%d %b %Y') }} {{ strftime_now('%A %j') }}"),
            "26 Jul 2024 Friday 208");
  const std::string today = ChatTemplate("{{ strftime_now('%Y') }}").render(Json::array());
  EXPECT_EQ(today.size(), 4u);
}

TEST(ChatTemplate, IntegersBeyond64BitsAreAnErrorNotAWrongNumber) {
  EXPECT_TRUE(contains(render_error("{{ 2 ** 100 }}"), "OverflowError"));
  EXPECT_TRUE(contains(render_error("{{ 99999999999999999999 }}"), "does not fit in 64 bits"));
}

TEST(ChatTemplate, InputsAreCheckedUpFront) {
  const ChatTemplate t("{{ messages }}", "t");
  EXPECT_THROW(t.render(Json::object()), Error);
  ChatRenderOptions o;
  o.tools = Json::object();
  EXPECT_THROW(t.render(Json::array(), o), Error);
  o = ChatRenderOptions();
  o.extra = {{"messages", 1}};
  EXPECT_THROW(t.render(Json::array(), o), Error);
  EXPECT_THROW(ChatTemplate("{% if %}", "broken"), Error);
  EXPECT_THROW(t.render(Json::array({std::string("\xff\xfe")})), Error);  // not UTF-8
}

// ---------------------------------------------------------------- tokenizer_config.json

TEST(ChatTemplate, SpecialTokensFromConfigAsTransformersPassesThem) {
  const Json config = Json::parse(R"({
    "add_bos_token": true, "bos_token": {"content": "<s>", "lstrip": false}, "eos_token": "</s>",
    "pad_token": null, "unk_token": "<unk>", "image_token": "<img>", "model_max_length": 10,
    "additional_special_tokens": ["<a>", {"content": "<b>"}],
    "extra_special_tokens": {"audio_token": "<audio>"}})");
  EXPECT_EQ(
      special_tokens_from_config(config).dump(),
      R"({"bos_token":"<s>","eos_token":"</s>","unk_token":"<unk>","image_token":"<img>","audio_token":"<audio>","additional_special_tokens":["<a>","<b>"]})");
  // A null token is not passed: the template sees it undefined, not None.
  const ChatTemplate t = ChatTemplate::from_tokenizer_config_json(
      Json{{"chat_template", "[{{ pad_token }}|{{ pad_token is defined }}|{{ eos_token }}]"},
           {"pad_token", nullptr},
           {"eos_token", "</s>"}},
      "config");
  EXPECT_EQ(t.render(Json::array()), "[|False|</s>]");
}

TEST(ChatTemplate, NamedTemplatesInAConfig) {
  const Json config = Json::parse(R"({"chat_template": [
    {"name": "default", "template": "plain"}, {"name": "tool_use", "template": "tools"}]})");
  EXPECT_EQ(ChatTemplate::from_tokenizer_config_json(config, "c").render(Json::array()), "plain");
  EXPECT_EQ(ChatTemplate::from_tokenizer_config_json(config, "c", "tool_use").render(Json::array()),
            "tools");
  try {
    ChatTemplate::from_tokenizer_config_json(config, "c", "rag");
    ADD_FAILURE() << "no template named rag";
  } catch (const Error& e) {
    EXPECT_TRUE(contains(e.what(), "no chat template named 'rag' (it has 'default', 'tool_use')"))
        << e.what();
  }
  EXPECT_THROW(ChatTemplate::from_tokenizer_config_json(Json{{"bos_token", "<s>"}}, "c"), Error);
}

TEST(ChatTemplate, ConfigFromADirectoryOrAChatTemplateJinjaBesideIt) {
  const fs::path dir = fs::temp_directory_path() / "volt_chat_template_test";
  fs::create_directories(dir);
  std::ofstream(dir / "tokenizer_config.json") << R"({"eos_token": "<|end|>"})";
  std::ofstream(dir / "chat_template.jinja")
      << "{% for m in messages %}{{ m.content }}{{ eos_token }}{% endfor %}\n";
  const ChatTemplate t = ChatTemplate::from_tokenizer_config(dir.string());
  EXPECT_EQ(t.render(Json::parse(R"([{"role": "user", "content": "hi"}])")), "hi<|end|>");
  // As transformers loads a directory: the .jinja files replace the config's templates.
  std::ofstream(dir / "tokenizer_config.json")
      << R"({"chat_template": "from the config", "eos_token": "</s>"})";
  fs::create_directories(dir / "chat_templates");
  std::ofstream(dir / "chat_templates" / "tool_use.jinja") << "tools: {{ tools | length }}";
  EXPECT_EQ(ChatTemplate::from_tokenizer_config(dir.string()).render(Json::array()), "");
  ChatRenderOptions o;
  o.tools = Json::array({Json::object()});
  EXPECT_EQ(ChatTemplate::from_tokenizer_config(dir.string(), "tool_use").render(Json::array(), o),
            "tools: 1");
  fs::remove(dir / "chat_template.jinja");
  EXPECT_EQ(ChatTemplate::from_tokenizer_config(dir.string()).render(Json::array()),
            "from the config");
  fs::remove_all(dir);
  EXPECT_THROW(ChatTemplate::from_tokenizer_config(dir.string()), Error);
}

// ---------------------------------------------------------------- assistant spans

const Json kConversation = Json::parse(R"([
  {"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"},
  {"role": "user", "content": "Bye"}, {"role": "assistant", "content": "Bye now."}])");

std::vector<std::string> span_texts(const ChatRender& r) {
  std::vector<std::string> out;
  for (const auto& s : r.spans) out.push_back(r.text.substr(s.begin, s.end - s.begin));
  return out;
}

TEST(ChatTemplateSpans, PrefixRendersKeepTheEndOfTurnTokenNotTheNewlineAfterIt) {
  const ChatTemplate chatml(read_file(goldens_dir() / "templates" / "chatml.jinja"), "chatml");
  const ChatRender r = chatml.render_with_spans(kConversation);
  EXPECT_EQ(r.method, SpanMethod::PrefixRender);
  EXPECT_EQ(span_texts(r), (std::vector<std::string>{"Hello!<|im_end|>", "Bye now.<|im_end|>"}));
  EXPECT_EQ(r.spans[0].message_index, 1);
  EXPECT_EQ(r.spans[1].message_index, 3);
}

TEST(ChatTemplateSpans, ContentSearchWhenTheTemplateAlwaysAppendsAHeader) {
  // Llama 3's packaged template appends the assistant header even without add_generation_prompt.
  const ChatTemplate t = ChatTemplate::from_tokenizer_config(volt_test_data("tokenizers/llama3"));
  const ChatRender r = t.render_with_spans(kConversation);
  EXPECT_EQ(r.method, SpanMethod::ContentSearch);
  EXPECT_EQ(span_texts(r), (std::vector<std::string>{"Hello!<|eot_id|>", "Bye now.<|eot_id|>"}));
}

TEST(ChatTemplateSpans, ContentSearchDoesNotTakeAPromptThatQuotesTheReply) {
  // Mistral v0.3 moves the system prompt into the last user turn, so no prompt is a prefix of
  // the render; the second "pong" to find is the reply, not the user's "say pong".
  ChatTemplate t(read_file(goldens_dir() / "templates" / "mistral_v0_3.jinja"), "mistral_v0_3");
  t.set_special_tokens({{"bos_token", "<s>"}, {"eos_token", "</s>"}});
  const ChatRender r = t.render_with_spans(Json::parse(R"([
    {"role": "system", "content": "sys"}, {"role": "user", "content": "ping"},
    {"role": "assistant", "content": "pong"}, {"role": "user", "content": "say pong"},
    {"role": "assistant", "content": "pong"}])"));
  EXPECT_EQ(r.text, "<s>[INST] ping[/INST] pong</s>[INST] say pong[/INST] pong</s>");
  EXPECT_EQ(r.method, SpanMethod::ContentSearch);
  ASSERT_EQ(r.spans.size(), 2u);
  EXPECT_EQ(r.spans[1].begin, r.text.size() - std::string("pong</s>").size());
  EXPECT_EQ(span_texts(r), (std::vector<std::string>{"pong</s>", "pong</s>"}));
}

TEST(ChatTemplateSpans, GenerationMarksAreTheSpans) {
  const ChatTemplate t(
      "{% for m in messages %}<{{ m.role }}>{% if m.role == 'assistant' %}{% generation %}"
      "{{ m.content }}</s>{% endgeneration %}{% else %}{{ m.content }}{% endif %}{% endfor %}",
      "marked");
  EXPECT_TRUE(t.has_generation_marks());
  const ChatRender r = t.render_with_spans(kConversation);
  EXPECT_EQ(r.method, SpanMethod::GenerationMarks);
  EXPECT_EQ(span_texts(r), (std::vector<std::string>{"Hello!</s>", "Bye now.</s>"}));
  EXPECT_EQ(r.spans[0].message_index, -1);
}

TEST(ChatTemplateSpans, AReplyThatCannotBeLocatedIsAnErrorNamingTheMessage) {
  // The template rewrites replies, and breaks the prefix property: nothing to find.
  const ChatTemplate t(
      "{% for m in messages %}{{ m.role }}: {{ m.content | upper }}\n{% endfor %}{{ 'end' }}",
      "upper");
  try {
    t.render_with_spans(kConversation);
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    EXPECT_TRUE(contains(e.what(), "assistant message 1")) << e.what();
  }
  EXPECT_EQ(t.render_with_spans(Json::parse(R"([{"role": "user", "content": "x"}])")).method,
            SpanMethod::None);
}

}  // namespace
}  // namespace volt
