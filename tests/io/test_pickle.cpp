// unpickle/pickle against pickles written by Python (tests/data/io/make_fixtures.py) and against
// hand-made malformed byte strings.

#include "io/pickle.h"

#include "io_test_util.h"

#include "support/catch_torch.h"

using namespace sit::io;
using namespace std::string_literals;  // "..."s keeps the NUL bytes of a pickle
using sit::test::entry;
using sit::test::fixture;

namespace {

Value unpickle_file(const std::string& name) {
  const std::vector<uint8_t> bytes = sit::test::read_bytes(fixture(name));
  return unpickle(bytes.data(), bytes.size(), name);
}

// A string literal's bytes, NULs included.
template <size_t N>
Value unpickle_text(const char (&bytes)[N]) {
  return unpickle(reinterpret_cast<const uint8_t*>(bytes), N - 1, "inline.pkl");
}

}  // namespace

TEST_CASE("unpickle reads Python's protocol 2 and 4 pickles", "[io][pickle]") {
  for (const char* name : {"pickle_p2.pkl", "pickle_p4.pkl"}) {
    INFO(name);
    const Value root = unpickle_file(name);
    const std::vector<int64_t> ints = {0, 255, 256, 65535, 65536, -1, INT32_MIN, int64_t{1} << 31,
                                       -(int64_t{1} << 40), INT64_MAX, INT64_MIN};
    const List& parsed = entry(root, "ints").items();
    REQUIRE(parsed.size() == ints.size());
    for (size_t i = 0; i < ints.size(); ++i) CHECK(parsed[i].to_int() == ints[i]);
    CHECK(entry(root, "float").to_double() == -1.25);
    CHECK(entry(root, "str").to_string() == "h\xc3\xa9llo");
    CHECK(entry(root, "none").is_none());
    CHECK(entry(root, "bools").is(Value::Kind::Tuple));
    CHECK(entry(root, "bools").items()[0].to_bool());
    CHECK_FALSE(entry(root, "bools").items()[1].to_bool());
    CHECK(entry(root, "tuple4").items().size() == 4);
    CHECK(entry(root, "tuple4").items()[3].to_int() == 4);

    const Dict& ordered = entry(root, "ordered").to_dict();
    CHECK(ordered.ordered);
    CHECK((ordered.string_keys() == std::vector<std::string>{"x", "y"}));
    CHECK(ordered.find("y")->to_int() == 2);

    // The same list twice: the memo hands back one shared object.
    const List& shared = entry(root, "shared").items();
    CHECK(&shared[0].items() == &shared[1].items());
    CHECK(shared[0].items()[1].to_int() == 2);

    const Object& namespace_ = entry(root, "namespace").to_object();
    CHECK(namespace_.qualified_name() == "argparse.Namespace");
    CHECK(namespace_.state.to_dict().find("k")->to_int() == 1);
  }
  // Protocol 4 has a bytes opcode; protocol 2 spells bytes as an opaque _codecs.encode call.
  CHECK(entry(unpickle_file("pickle_p4.pkl"), "bytes").to_string() == std::string("\x00\xff", 2));
  CHECK(entry(unpickle_file("pickle_p2.pkl"), "bytes").to_object().qualified_name() == "_codecs.encode");
}

TEST_CASE("pickle then unpickle round-trips a value tree", "[io][pickle]") {
  Value root = Value::dict(/*ordered=*/true);
  Dict& dict = root.to_dict();
  dict.set("ints", Value::list({Value::integer(0), Value::integer(300), Value::integer(-70000),
                                Value::integer(int64_t{1} << 40), Value::integer(INT64_MIN)}));
  dict.set("float", Value::floating(0.1));
  dict.set("text", Value::string("SiT-XL/2"));
  dict.set("raw", Value::bytes(std::string("\x00\x01", 2)));
  dict.set("tuple", Value::tuple({Value(), Value::boolean(true), Value::tuple(), Value::tuple({Value::integer(1)})}));
  Value args = Value::object("argparse", "Namespace");
  args.to_object().state = Value::dict();
  args.to_object().state.to_dict().set("lr", Value::floating(1e-4));
  dict.set("args", args);
  dict.set(Value::integer(5), Value::string("int key"));

  const std::string bytes = pickle(root, nullptr);
  const Value back = unpickle(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "roundtrip");
  REQUIRE(back.to_dict().ordered);
  REQUIRE(back.to_dict().items.size() == 7);
  CHECK(entry(back, "ints").items()[1].to_int() == 300);
  CHECK(entry(back, "ints").items()[2].to_int() == -70000);
  CHECK(entry(back, "ints").items()[3].to_int() == int64_t{1} << 40);
  CHECK(entry(back, "ints").items()[4].to_int() == INT64_MIN);
  CHECK(entry(back, "float").to_double() == 0.1);
  CHECK(entry(back, "text").to_string() == "SiT-XL/2");
  CHECK(entry(back, "raw").is(Value::Kind::Bytes));
  CHECK(entry(back, "tuple").items()[3].items()[0].to_int() == 1);
  CHECK(entry(back, "args").to_object().state.to_dict().find("lr")->to_double() == 1e-4);
  CHECK(back.to_dict().items[6].first.to_int() == 5);
}

TEST_CASE("unpickle rejects malformed input with the reason and position", "[io][pickle]") {
  CHECK_THROWS_WITH(unpickle_text(""), Catch::Contains("inline.pkl: truncated pickle opcode (no STOP) at offset 0"));
  CHECK_THROWS_WITH(unpickle_text("\x80\x02N"), Catch::Contains("no STOP"));
  CHECK_THROWS_WITH(unpickle_text("\x80\x02."), Catch::Contains("pickle stack underflow at byte 2"));
  CHECK_THROWS_WITH(unpickle_text("\x80\x02(."), Catch::Contains("pickle stack underflow"));
  CHECK_THROWS_WITH(unpickle_text("\x80\x02h\x05."), Catch::Contains("pickle memo has no entry 5 at byte 2"));
  CHECK_THROWS_WITH(unpickle_text("\x80\x02\xff."), Catch::Contains("unsupported pickle opcode 0xff at byte 2"));
  CHECK_THROWS_WITH(unpickle_text("\x80\x09N."), Catch::Contains("unsupported pickle protocol 9"));
  CHECK_THROWS_WITH(unpickle_text("\x80\x02X\x05\x00\x00\x00" "ab"), Catch::Contains("truncated string at offset 7 (needs 5 bytes, 2 left)"));
  CHECK_THROWS_WITH(unpickle_text("\x80\x02u."), Catch::Contains("pickle MARK missing"));
  CHECK_THROWS_WITH(unpickle_text("\x80\x02K\x01K\x02R."), Catch::Contains("REDUCE arguments are a int"));
  CHECK_THROWS_WITH(unpickle_text("\x80\x02N)Q."), Catch::Contains("persistent id without a loader"));
  CHECK_THROWS_WITH(unpickle_file("pickle_p0.pkl"), Catch::Contains("unsupported pickle opcode"));

  const std::vector<uint8_t> good = sit::test::read_bytes(fixture("pickle_p4.pkl"));
  for (size_t size = 0; size < good.size(); size += 7) {
    INFO("cut at " << size);
    CHECK_THROWS_AS(unpickle(good.data(), size, "cut.pkl"), std::runtime_error);
  }
}

TEST_CASE("unpickle refuses classes outside its allow-list, naming them", "[io][pickle]") {
  // os.system('x'): refused at the GLOBAL, before anything is built from it.
  CHECK_THROWS_WITH(unpickle_text("\x80\x02\x63os\nsystem\nX\x01\x00\x00\x00x\x85R."),
                    Catch::Contains("inline.pkl: pickle references os.system, which is not on the allow-list") &&
                        Catch::Contains("at byte 2"));
  // STACK_GLOBAL (protocol 4) is checked the same way.
  CHECK_THROWS_WITH(unpickle_text("\x80\x04\x8c\x08" "builtins\x8c\x04" "eval\x93."),
                    Catch::Contains("pickle references builtins.eval, which is not on the allow-list"));
}

TEST_CASE("unpickle refuses cycles and nesting deeper than 1000", "[io][pickle]") {
  // A list appended to itself through the memo, as the result and as garbage left behind.
  CHECK_THROWS_WITH(unpickle_text("\x80\x02]q\x00h\x00" "a."), Catch::Contains("a container that contains itself"));
  CHECK_THROWS_WITH(unpickle_text("\x80\x02]q\x00h\x00" "a0N."), Catch::Contains("a container that contains itself"));
  const auto nested = [](size_t depth) {
    std::string bytes = "\x80\x02" + std::string(depth, '(') + std::string(depth, 'l') + ".";
    return unpickle(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "nested.pkl");
  };
  CHECK(nested(1000).is(Value::Kind::List));
  CHECK_THROWS_WITH(nested(1001), Catch::Contains("nests containers deeper than 1000"));
  CHECK_THROWS_WITH(nested(100000), Catch::Contains("nests containers deeper than 1000"));
}

TEST_CASE("_rebuild_tensor_v2 views only whole storages, within their extent", "[io][pickle]") {
  const auto storage = [](const Value&) { return Value::tensor(torch::arange(16, torch::kFloat32)); };
  const auto load = [&](const std::string& bytes) {
    return unpickle(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "views.pkl", storage);
  };
  const std::string rebuild = "\x80\x02\x63torch._utils\n_rebuild_tensor_v2\n(NQ";
  const std::string tail = "\x89\x63\x63ollections\nOrderedDict\n)RtR.";
  // (offset, sizes, strides) as pickle bytes.
  CHECK(load(rebuild + "K\x02K\x02K\x03\x86K\x03K\x01\x86" + tail).to_tensor().sum().item<float>() ==
        2 + 3 + 4 + 5 + 6 + 7);
  CHECK_THROWS_WITH(load(rebuild + "K\x00K\x11\x85K\x01\x85"s + tail), Catch::Contains("exceeds its storage of 16"));
  CHECK_THROWS_WITH(load(rebuild + "K\x00(\x8a\x05\x00\x00\x00\x00\x01\x8a\x05\x00\x00\x00\x00\x01t(K\x00K\x00t"s + tail),
                    Catch::Contains("tensor view overflows"));
  // A stride-0 view of 100 elements, then a view of that view at offset 99: refused, as the
  // storage has 16.
  const std::string view_of_view = "\x80\x02\x63torch._utils\n_rebuild_tensor_v2\n(\x63torch._utils\n_rebuild_tensor_v2\n"
                                   "(NQK\x00Kd\x85K\x00\x85\x89\x63\x63ollections\nOrderedDict\n)RtRKc"
                                   "K\x01\x85K\x01\x85"s + tail;
  CHECK_THROWS_WITH(load(view_of_view), Catch::Contains("_rebuild_tensor_v2 of a tensor that is not a whole storage"));
}
