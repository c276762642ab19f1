// parse_image_selection / check_image_selection: the forms users write, and every bad
// input named by its key.
#include "deconvscope/analysis/image_selection.hpp"

#include <gtest/gtest.h>

#include "deconvscope/core/error.hpp"

namespace ds {
namespace {

TEST(ImageSelection, ParsesRangesListsAndMixes) {
  ImageSelection s = parse_image_selection("test:0-4", "invariance.images");
  EXPECT_FALSE(s.train_split);
  EXPECT_EQ(s.indices, (std::vector<int64_t>{0, 1, 2, 3, 4}));
  s = parse_image_selection("train:3,7,9", "k");
  EXPECT_TRUE(s.train_split);
  EXPECT_EQ(s.indices, (std::vector<int64_t>{3, 7, 9}));
  s = parse_image_selection(" test: 9, 2-3 ", "k");
  EXPECT_EQ(s.indices, (std::vector<int64_t>{9, 2, 3}));
  EXPECT_EQ(parse_image_selection("test:5-5", "k").indices, (std::vector<int64_t>{5}));
}

void expect_config_error(const std::string& text, const std::string& what) {
  try {
    parse_image_selection(text, "occlusion.images");
    FAIL() << "no error for \"" << text << "\"";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::config);
    EXPECT_NE(std::string(e.what()).find("occlusion.images"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
  }
}

TEST(ImageSelection, BadTextNamesTheKey) {
  expect_config_error("0-4", "train|test");
  expect_config_error("val:1", "split train or test");
  expect_config_error("test:", "image index");
  expect_config_error("test:1,,2", "image index");
  expect_config_error("test:-3", "image index");
  expect_config_error("test:a", "\"a\"");
  expect_config_error("test:4-2", "low <= high");
  expect_config_error("test:1,2,1", "twice");
  expect_config_error("test:0-99999999", "at most");
}

TEST(ImageSelection, IndicesBeyondTheSplitNameTheKey) {
  const ImageSelection s = parse_image_selection("train:0,10", "invariance.images");
  EXPECT_NO_THROW(check_image_selection(s, 11, "invariance.images"));
  try {
    check_image_selection(s, 10, "invariance.images");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::config);
    const std::string m = e.what();
    EXPECT_NE(m.find("invariance.images"), std::string::npos) << m;
    EXPECT_NE(m.find("index 10"), std::string::npos) << m;
    EXPECT_NE(m.find("train split"), std::string::npos) << m;
  }
}

}  // namespace
}  // namespace ds
