// Tests of the HDF5 wrapper: every attribute and dataset kind round-trips, nested groups,
// child order, and the typed errors a reader gets for missing or mistyped objects.
#include "deconvscope/io/h5.hpp"

#include <climits>
#include <cstdint>
#include <fstream>

#include <gtest/gtest.h>

#include "deconvscope/core/error.hpp"
#include "io/io_test_util.hpp"

namespace ds {
namespace {

class H5Test : public test::TempDirTest {};

TEST_F(H5Test, AttributesRoundTrip) {
  const std::string path = file("a.h5");
  {
    h5::File f = h5::File::create(path);
    {
      h5::Group g = f.root().create_group("x/y");
      g.write_attr_string("s", "héllo");
      g.write_attr_strings("ss", {"a", "", "conv1"});
      g.write_attr_strings("empty", {});
      g.write_attr_int("i", -7);
      g.write_attr_int64("i64", int64_t(1) << 40);
      g.write_attr_ints("is", {3, 4, 5});
      g.write_attr_float("f", 0.25f);
      g.write_attr_double("d", 1e-300);
      g.write_attr_floats("fs", {1.5f, -2.f});
      g.write_attr_int("i", 8);  // replaces
    }
    f.close();
  }
  h5::File f = h5::File::open_read(path);
  h5::Group g = f.root().open_group("x/y");
  EXPECT_EQ(g.path(), "/x/y");
  EXPECT_EQ(g.read_attr_string("s"), "héllo");
  EXPECT_EQ(g.read_attr_strings("ss"), (std::vector<std::string>{"a", "", "conv1"}));
  EXPECT_TRUE(g.read_attr_strings("empty").empty());
  EXPECT_EQ(g.read_attr_int("i"), 8);
  EXPECT_EQ(g.read_attr_int64("i64"), int64_t(1) << 40);
  EXPECT_EQ(g.read_attr_ints("is"), (std::vector<int32_t>{3, 4, 5}));
  EXPECT_EQ(g.read_attr_float("f"), 0.25f);
  EXPECT_EQ(g.read_attr_double("d"), 1e-300);
  EXPECT_EQ(g.read_attr_floats("fs"), (std::vector<float>{1.5f, -2.f}));
  EXPECT_TRUE(g.has_attr("s"));
  EXPECT_FALSE(g.has_attr("nope"));
  EXPECT_EQ(g.attr_names().size(), 9u);  // "i" was replaced, not added
}

TEST_F(H5Test, DatasetsRoundTrip) {
  const std::string path = file("d.h5");
  std::vector<float> big(300 * 1000);
  for (size_t i = 0; i < big.size(); ++i) big[i] = float(i % 97) * 0.5f;
  {
    h5::File f = h5::File::create(path);
    {
      h5::Group r = f.root();
      r.write_dataset("f", {2, 3}, std::vector<float>{1, 2, 3, 4, 5, 6});
      r.write_dataset("i", {3}, std::vector<int32_t>{-1, 0, 1});
      r.write_dataset("l", {1, 1, 2}, std::vector<int64_t>{int64_t(1) << 50, -3});
      r.write_dataset("u", {2, 2}, std::vector<uint8_t>{0, 1, 255, 7});
      r.write_dataset("deep/u8", {2, 1}, std::vector<uint8_t>{1, 0}, /*deflate_level=*/1);
      r.write_dataset("deep/er/z", {300, 1000}, big, /*deflate_level=*/4);
      r.write_dataset("none", {0, 4}, std::vector<float>{});
    }
    f.close();
  }
  h5::File f = h5::File::open_read(path);
  h5::Group r = f.root();
  std::vector<int64_t> dims;
  EXPECT_EQ(r.read_dataset_f32("f", &dims), (std::vector<float>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(dims, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(r.read_dataset_i32("i"), (std::vector<int32_t>{-1, 0, 1}));
  EXPECT_EQ(r.read_dataset_i64("l", &dims), (std::vector<int64_t>{int64_t(1) << 50, -3}));
  EXPECT_EQ(dims, (std::vector<int64_t>{1, 1, 2}));
  EXPECT_EQ(r.read_dataset_u8("u", &dims), (std::vector<uint8_t>{0, 1, 255, 7}));
  EXPECT_EQ(dims, (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(r.read_dataset_u8("deep/u8"), (std::vector<uint8_t>{1, 0}));
  {  // stored as HDF5's little-endian uint8, what h5py reads as numpy uint8
    h5::Handle ds(H5Dopen2(r.id(), "u", H5P_DEFAULT), H5Dclose);
    h5::Handle type(H5Dget_type(ds.get()), H5Tclose);
    EXPECT_GT(H5Tequal(type.get(), H5T_STD_U8LE), 0);
  }
  Tensor t = r.read_tensor("deep/er/z");
  EXPECT_EQ(t.dims, (std::vector<int64_t>{300, 1000}));
  EXPECT_EQ(t.data, big);
  EXPECT_EQ(r.dataset_dims("none"), (std::vector<int64_t>{0, 4}));
  EXPECT_TRUE(r.read_dataset_f32("none").empty());
  EXPECT_TRUE(r.is_dataset("deep/er/z"));
  EXPECT_TRUE(r.is_group("deep/er"));
  EXPECT_FALSE(r.exists("deep/nope/z"));
  EXPECT_FALSE(r.exists("f/below_a_dataset"));
}

TEST_F(H5Test, ChildrenKeepCreationOrder) {
  const std::string path = file("c.h5");
  {
    h5::File f = h5::File::create(path);
    {
      h5::Group g = f.root().create_group("layers");
      for (const char* n : {"conv1", "relu1", "pool1", "fc1", "a"}) g.create_group(n);
    }
    f.close();
  }
  h5::File f = h5::File::open_read(path);
  EXPECT_EQ(f.root().open_group("layers").children(),
            (std::vector<std::string>{"conv1", "relu1", "pool1", "fc1", "a"}));
  EXPECT_EQ(f.root().children(), (std::vector<std::string>{"layers"}));
}

TEST_F(H5Test, ReadErrorsAreTypedAndSayWhatWasExpected) {
  const std::string path = file("e.h5");
  {
    h5::File f = h5::File::create(path);
    {
      h5::Group r = f.root();
      r.write_dataset("w", {2}, std::vector<float>{1, 2});
      r.write_dataset("ints", {2}, std::vector<int32_t>{1, 2});
      r.write_dataset("flags", {2}, std::vector<uint8_t>{1, 0});
      r.write_attr_string("name", "x");
      r.write_attr_ints("pair", {1, 2});
    }
    f.close();
  }
  h5::File f = h5::File::open_read(path);
  h5::Group r = f.root();
  auto expect_error = [&](auto&& fn, const std::string& where_part, const std::string& problem_part) {
    try {
      fn();
      ADD_FAILURE() << "no error for " << where_part;
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::snapshot) << e.what();
      EXPECT_NE(e.where().find(path), std::string::npos) << e.what();
      EXPECT_NE(e.where().find(where_part), std::string::npos) << e.what();
      EXPECT_NE(e.problem().find(problem_part), std::string::npos) << e.what();
    }
  };
  expect_error([&] { r.read_dataset_i32("w"); }, "/w", "expected int32, found float32");
  expect_error([&] { r.read_dataset_f32("ints"); }, "/ints", "expected float32, found int32");
  expect_error([&] { r.read_dataset_i64("ints"); }, "/ints", "expected int64, found int32");
  expect_error([&] { r.read_dataset_f32("missing"); }, "/missing", "missing dataset");
  expect_error([&] { r.read_dataset_u8("w"); }, "/w", "expected uint8, found float32");
  expect_error([&] { r.read_dataset_u8("ints"); }, "/ints", "expected uint8, found int32");
  expect_error([&] { r.read_dataset_u8("missing"); }, "/missing", "missing dataset");
  expect_error([&] { r.read_dataset_i32("flags"); }, "/flags", "expected int32, found uint8");
  expect_error([&] { r.read_dataset_f32("flags"); }, "/flags", "expected float32, found uint8");
  expect_error([&] { r.open_group("missing/deeper"); }, "/missing/deeper", "missing group");
  expect_error([&] { r.open_group("w"); }, "/w", "found a dataset");
  expect_error([&] { r.read_attr_int("name"); }, "attribute name", "expected an integer, found string");
  expect_error([&] { r.read_attr_string("pair"); }, "attribute pair", "expected a string, found int32");
  expect_error([&] { r.read_attr_int("pair"); }, "attribute pair", "expected one integer, found 2 values");
  expect_error([&] { r.read_attr_float("nope"); }, "attribute nope", "missing attribute");
}

TEST_F(H5Test, Int8IsNotReadAsUint8) {
  const std::string path = file("s.h5");
  {
    h5::File f = h5::File::create(path);
    {
      const h5::Group r = f.root();
      const std::vector<hsize_t> dims{2};
      h5::Handle space(H5Screate_simple(1, dims.data(), nullptr), H5Sclose);
      h5::Handle ds(H5Dcreate2(r.id(), "s", H5T_STD_I8LE, space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Dclose);
      const int8_t v[2] = {-1, 1};
      ASSERT_GE(H5Dwrite(ds.get(), H5T_NATIVE_INT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, v), 0);
    }
    f.close();
  }
  h5::File f = h5::File::open_read(path);
  try {
    f.root().read_dataset_u8("s");
    ADD_FAILURE() << "int8 read as uint8";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::snapshot);
    EXPECT_NE(std::string(e.what()).find(path + ": /s: expected uint8, found int8"), std::string::npos) << e.what();
  }
}

// The one format/version check of every reader (snapshot, analysis, health): each refusal
// names the file and the attribute, says what was expected and found, and carries the
// reader's hint for that case.
TEST_F(H5Test, CheckFormat) {
  const h5::FormatHints hints{"other-hint", "newer-hint", "older-hint"};
  auto root_with = [&](const std::string& name, const char* format, int version) {
    const std::string path = file(name);
    h5::File f = h5::File::create(path);
    {
      const h5::Group r = f.root();
      if (format) r.write_attr_string("format", format);
      if (version != INT32_MIN) r.write_attr_int("format_version", version);
    }
    f.close();
    return path;
  };
  auto refused = [&](const std::string& path, const std::string& attr, const std::string& problem,
                     const std::string& hint) {
    SCOPED_TRACE(path);
    h5::File f = h5::File::open_read(path);
    try {
      h5::check_format(f.root(), "deconvscope.thing", {2, 3}, hints);
      ADD_FAILURE() << "accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::snapshot);
      EXPECT_EQ(e.where(), path + ": / attribute " + attr);
      EXPECT_EQ(e.problem(), problem);
      EXPECT_EQ(e.hint(), hint);
    }
  };
  refused(root_with("none.h5", nullptr, 2), "format",
          "another program's HDF5 file: expected 'deconvscope.thing', found no such attribute", "other-hint");
  refused(root_with("other.h5", "keras", 2), "format",
          "not a deconvscope.thing file: expected 'deconvscope.thing', found 'keras'", "other-hint");
  refused(root_with("nover.h5", "deconvscope.thing", INT32_MIN), "format_version",
          "expected 2 or 3, found no such attribute", "other-hint");
  refused(root_with("newer.h5", "deconvscope.thing", 4), "format_version",
          "written by a newer deconvscope: expected 2 or 3, found 4", "newer-hint");
  refused(root_with("older.h5", "deconvscope.thing", 1), "format_version",
          "written by an older deconvscope: expected 2 or 3, found 1", "older-hint");
  refused(root_with("zero.h5", "deconvscope.thing", -5), "format_version",
          "not a version any deconvscope writes: expected 2 or 3, found -5", "other-hint");
  for (int v : {2, 3}) {
    h5::File f = h5::File::open_read(root_with("ok" + std::to_string(v) + ".h5", "deconvscope.thing", v));
    EXPECT_EQ(h5::check_format(f.root(), "deconvscope.thing", {2, 3}, hints), v);
  }
  // A gap in the supported list (1 and 3, not 2) is refused as older, and "1, 2 or 3" reads right.
  {
    h5::File f = h5::File::open_read(root_with("gap.h5", "deconvscope.thing", 2));
    try {
      h5::check_format(f.root(), "deconvscope.thing", {1, 3}, hints);
      ADD_FAILURE() << "accepted a version outside the list";
    } catch (const Error& e) {
      EXPECT_EQ(e.problem(), "written by an older deconvscope: expected 1 or 3, found 2");
    }
    try {
      h5::check_format(f.root(), "deconvscope.thing", {3, 4, 5}, hints);
      ADD_FAILURE() << "accepted an older version";
    } catch (const Error& e) {
      EXPECT_EQ(e.problem(), "written by an older deconvscope: expected 3, 4 or 5, found 2");
    }
  }
}

TEST_F(H5Test, ReadsFixedLengthStringsWrittenByOtherTools) {
  const std::string path = file("fixed.h5");
  {
    h5::File f = h5::File::create(path);
    h5::Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(type.get(), 6);
    hsize_t n = 2;
    h5::Handle space(H5Screate_simple(1, &n, nullptr), H5Sclose);
    {
      h5::Handle attr(H5Acreate2(f.id(), "names", type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
      const char data[12] = {'c', 'o', 'n', 'v', '1', 0, 'f', 'c', 0, 0, 0, 0};
      ASSERT_GE(H5Awrite(attr.get(), type.get(), data), 0);
    }
    f.close();
  }
  h5::File f = h5::File::open_read(path);
  EXPECT_EQ(f.root().read_attr_strings("names"), (std::vector<std::string>{"conv1", "fc"}));
}

TEST_F(H5Test, WriteErrorsAreIo) {
  // A path below a regular file cannot be created, even as root.
  std::ofstream(file("plain")) << "x";
  try {
    h5::File::create(file("plain") + "/x.h5");
    FAIL() << "created a file below a regular file";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::io);
    EXPECT_NE(e.where().find("plain/x.h5"), std::string::npos);
  }
  h5::File f = h5::File::create(file("w.h5"));
  {
    h5::Group r = f.root();
    try {
      r.write_dataset("bad", {2, 2}, std::vector<float>{1, 2, 3});
      FAIL() << "dims and data disagree";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::internal);  // the caller's bug, not the disk's
      EXPECT_NE(e.where().find("/bad"), std::string::npos);
    }
  }
  f.close();
}

TEST_F(H5Test, CloseRefusesOpenGroups) {
  h5::File f = h5::File::create(file("open.h5"));
  h5::Group g = f.root().create_group("still_open");
  EXPECT_THROW(f.close(), Error);
}

TEST_F(H5Test, IsHdf5) {
  std::ofstream(file("text.h5")) << "not hdf5\n";
  EXPECT_FALSE(h5::is_hdf5(file("text.h5")));
  EXPECT_FALSE(h5::is_hdf5(file("missing.h5")));
  h5::File::create(file("real.h5")).close();
  EXPECT_TRUE(h5::is_hdf5(file("real.h5")));
}

}  // namespace
}  // namespace ds
