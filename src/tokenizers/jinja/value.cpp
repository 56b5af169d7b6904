#include "value.h"

#include <algorithm>

namespace volt::jinja {
namespace {

void check_depth(int depth) {
  if (depth > kMaxNesting) {
    throw Failure("RecursionError",
                  "lists and dicts nest deeper than " + std::to_string(kMaxNesting) + " levels");
  }
}

}  // namespace

Value::Value() : v_(std::make_shared<const UndefinedInfo>()) {}

Value Value::undefined(std::string hint, bool unsafe) {
  return Value(
      Storage(std::make_shared<const UndefinedInfo>(UndefinedInfo{std::move(hint), unsafe})));
}
Value Value::none() { return Value(Storage(nullptr)); }
Value Value::boolean(bool b) { return Value(Storage(b)); }
Value Value::integer(int64_t i) { return Value(Storage(i)); }
Value Value::floating(double d) { return Value(Storage(d)); }
Value Value::string(std::string s, bool markup) {
  return Value(Storage(std::make_shared<const Str>(Str{std::move(s), markup})));
}

Value Value::list(std::vector<Value> items, ListKind kind) {
  auto l = std::make_shared<List>();
  int depth = 0;
  for (const auto& v : items) depth = std::max(depth, v.depth());
  l->depth = depth + 1;
  check_depth(l->depth);
  l->kind = kind;
  l->items = std::move(items);
  return Value(Storage(std::shared_ptr<const List>(std::move(l))));
}

Value Value::range(int64_t start, int64_t stop, int64_t step, std::vector<Value> items) {
  auto l = std::make_shared<List>();
  l->kind = ListKind::Range;
  l->items = std::move(items);
  l->range_start = start;
  l->range_stop = stop;
  l->range_step = step;
  return Value(Storage(std::shared_ptr<const List>(std::move(l))));
}

Value Value::failed_generator(const Failure& error) {
  auto l = std::make_shared<List>();
  l->kind = ListKind::Generator;
  l->deferred = std::make_shared<const Failure>(error);
  return Value(Storage(std::shared_ptr<const List>(std::move(l))));
}

Value Value::dict(std::shared_ptr<const Dict> d) {
  check_depth(d->depth());
  return Value(Storage(std::move(d)));
}

Value Value::object(std::shared_ptr<Object> o) { return Value(Storage(std::move(o))); }

const UndefinedInfo& Value::undefined_info() const {
  return *std::get<std::shared_ptr<const UndefinedInfo>>(v_);
}

double Value::to_double() const {
  if (is_float()) return as_float();
  return static_cast<double>(to_int());
}

int Value::depth() const {
  if (is_list()) return as_list().depth;
  if (is_dict()) return as_dict().depth();
  return 0;
}

bool keys_equal(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) return a.to_double() == b.to_double();
    return a.to_int() == b.to_int();
  }
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case Kind::None:
      return true;
    case Kind::String:
      return a.as_string() == b.as_string();
    case Kind::List: {
      const auto& x = a.as_list().items;
      const auto& y = b.as_list().items;
      if (x.size() != y.size()) return false;
      for (size_t i = 0; i < x.size(); ++i) {
        if (!keys_equal(x[i], y[i])) return false;
      }
      return true;
    }
    case Kind::Object:
      return a.object_ptr() == b.object_ptr();
    default:
      return false;
  }
}

void Dict::set(const Value& key, Value value) {
  depth_ = std::max({depth_, key.depth() + 1, value.depth() + 1});
  if (key.is_string()) {
    auto [it, inserted] = string_index_.emplace(key.as_string(), entries_.size());
    if (inserted) {
      entries_.emplace_back(key, std::move(value));
    } else {
      entries_[it->second].second = std::move(value);
    }
    return;
  }
  for (auto& e : entries_) {
    if (!e.first.is_string() && keys_equal(e.first, key)) {
      e.second = std::move(value);
      return;
    }
  }
  entries_.emplace_back(key, std::move(value));
}

const Value* Dict::find(const std::string& key) const {
  const auto it = string_index_.find(key);
  return it == string_index_.end() ? nullptr : &entries_[it->second].second;
}

const Value* Dict::find(const Value& key) const {
  if (key.is_string()) return find(key.as_string());
  for (const auto& e : entries_) {
    if (!e.first.is_string() && keys_equal(e.first, key)) return &e.second;
  }
  return nullptr;
}

}  // namespace volt::jinja
