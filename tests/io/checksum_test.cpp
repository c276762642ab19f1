// The checksum header in the HDF5 user block (io/h5_checksum.hpp): every file File::create
// writes carries it, a damaged byte anywhere or a cut file is refused before HDF5 parses
// it, a file without it (another tool's) is read as before, and in-place edits re-seal.
#include "deconvscope/io/h5_checksum.hpp"

#include <hdf5.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <iterator>

#include <gtest/gtest.h>

#include "deconvscope/core/error.hpp"
#include "deconvscope/io/h5.hpp"
#include "io/io_test_util.hpp"

namespace ds {
namespace {

class ChecksumTest : public test::TempDirTest {
 protected:
  std::string write_small(const std::string& name) {
    const std::string path = file(name);
    h5::File f = h5::File::create(path);
    {
      h5::Group g = f.root().create_group("g");
      g.write_attr_string("s", "some text");
      g.write_dataset("d", {3}, std::vector<float>{1, 2, 3});
    }
    f.close();
    return path;
  }
  static std::vector<char> bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::vector<char>(std::istreambuf_iterator<char>(in), {});
  }
  static void put(const std::string& path, const std::vector<char>& b) {
    std::ofstream(path, std::ios::binary | std::ios::trunc).write(b.data(), std::streamsize(b.size()));
  }
  static void expect_refused(const std::string& path, const std::string& problem) {
    try {
      h5::File::open_read(path);
      ADD_FAILURE() << "accepted " << path;
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::snapshot);
      EXPECT_EQ(e.exit_code(), 2);
      EXPECT_EQ(e.where(), path);
      EXPECT_NE(std::string(e.what()).find(problem), std::string::npos) << e.what();
    }
  }
};

TEST_F(ChecksumTest, Sha256KnownAnswers) {
  // FIPS 180-2 test vectors.
  EXPECT_EQ(h5::sha256_hex("", 0), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(h5::sha256_hex("abc", 3), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST_F(ChecksumTest, EveryWrittenFileCarriesTheHeaderAndHdf5SkipsIt) {
  const std::string path = write_small("a.h5");
  const std::vector<char> b = bytes(path);
  ASSERT_GT(b.size(), h5::kUserBlockSize);
  const std::string head(b.data(), 60);
  EXPECT_EQ(head.rfind("deconvscope checksum\nversion 1\nlength " + std::to_string(b.size() - 512) + "\nsha256 ", 0), 0u)
      << head;
  EXPECT_EQ(std::string(b.data() + 512, 4), "\x89HDF");
  // The plain C API (what h5py uses) opens it, with the user block declared.
  hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  ASSERT_GE(f, 0);
  hid_t fcpl = H5Fget_create_plist(f);
  hsize_t ub = 0;
  H5Pget_userblock(fcpl, &ub);
  EXPECT_EQ(ub, 512u);
  H5Pclose(fcpl);
  H5Fclose(f);
  h5::File r = h5::File::open_read(path);
  EXPECT_TRUE(r.sealed());
  EXPECT_EQ(r.content_sha256(), h5::sha256_hex(b.data() + 512, b.size() - 512));
  EXPECT_EQ(r.root().open_group("g").read_attr_string("s"), "some text");
}

TEST_F(ChecksumTest, AnyFlippedByteIsRefused) {
  const std::string path = write_small("a.h5");
  const std::vector<char> good = bytes(path);
  // Every byte of the header and a stride through the content, so the test stays quick.
  for (size_t at = 0; at < good.size(); at += at < 600 ? 1 : 97) {
    std::vector<char> b = good;
    b[at] = char(b[at] ^ 0x82);
    put(path, b);
    try {
      h5::File::open_read(path);
      ADD_FAILURE() << "a flip at byte " << at << " passed";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::snapshot) << at;
      EXPECT_EQ(e.where(), path) << at << ": " << e.what();
    }
  }
}

TEST_F(ChecksumTest, MismatchAndTruncationNameWhatDiffers) {
  const std::string path = write_small("a.h5");
  std::vector<char> b = bytes(path);
  b[b.size() - 10] ^= 1;
  put(path, b);
  expect_refused(path, "checksum mismatch");
  b[b.size() - 10] ^= 1;
  b.resize(b.size() - 100);
  put(path, b);
  expect_refused(path, "wrong length");
  b.resize(300);
  put(path, b);
  expect_refused(path, "cut short");
}

TEST_F(ChecksumTest, FileWithoutTheHeaderIsReadAsBefore) {
  const std::string path = write_small("a.h5");
  std::vector<char> b = bytes(path);
  std::fill(b.begin(), b.begin() + 512, '\0');  // another tool's user block
  put(path, b);
  h5::File r = h5::File::open_read(path);
  EXPECT_FALSE(r.sealed());
  EXPECT_EQ(r.content_sha256(), h5::sha256_hex(b.data(), b.size()));
  EXPECT_EQ(r.root().open_group("g").read_attr_string("s"), "some text");
}

TEST_F(ChecksumTest, EveryFileIsParsedInAChildFirstSealedOrNot) {
  const std::string path = write_small("a.h5");
  std::vector<char> b = bytes(path);
  std::fill(b.begin(), b.begin() + 512, '\0');
  put(path, b);
  const std::string sealed = write_small("b.h5");
  for (const std::string& p : {path, sealed}) {
    SCOPED_TRACE(p);
    h5::File r = h5::File::open_read(p, [&](const h5::Group& root) { root.open_group("g").read_attr_string("s"); });
    EXPECT_EQ(r.sealed(), p == sealed);
    // What a libhdf5 crash or hang in the child turns into: a refusal naming the file.
    try {
      h5::File::open_read(p, [](const h5::Group&) { ::raise(SIGSEGV); });
      ADD_FAILURE();
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::snapshot);
      EXPECT_EQ(e.where(), p);
      EXPECT_NE(std::string(e.what()).find("libhdf5 crashed parsing the file (signal 11"), std::string::npos) << e.what();
      // The hint tells a sealed file (re-sealed, or another program's) from a foreign one.
      EXPECT_NE(e.hint().find(p == sealed ? "checksum matches" : "no deconvscope checksum"), std::string::npos)
          << e.hint();
    }
    try {
      h5::File::open_read(p, [](const h5::Group&) { ::sleep(30); }, /*timeout_s=*/1);
      ADD_FAILURE();
    } catch (const Error& e) {
      EXPECT_EQ(e.where(), p);
      EXPECT_NE(std::string(e.what()).find("did not finish parsing the file within 1 s"), std::string::npos) << e.what();
    }
  }
}

TEST_F(ChecksumTest, TheChildsRefusalIsThrownAsItWasAndTheParentNeverParses) {
  const std::string path = write_small("a.h5");
  int parses_here = 0;
  try {
    h5::File::open_read(path, [&](const h5::Group& root) {
      ++parses_here;  // counts in the child's copy only
      root.read_attr_int("missing");
    });
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::snapshot);
    EXPECT_EQ(e.where(), path + ": / attribute missing") << e.what();
  }
  EXPECT_EQ(parses_here, 0);
  // Other exceptions in the child (std::bad_alloc from a huge claimed size) are bad input too.
  try {
    h5::File::open_read(path, [](const h5::Group&) { throw std::bad_alloc(); });
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::snapshot);
    EXPECT_EQ(e.where(), path);
    EXPECT_NE(std::string(e.what()).find("bad_alloc"), std::string::npos) << e.what();
  }
}

TEST_F(ChecksumTest, DamagedMagicIsStillRecognised) {
  const std::string path = write_small("a.h5");
  std::vector<char> b = bytes(path);
  for (int i = 0; i < 4; ++i) b[size_t(i)] = 'X';
  put(path, b);
  expect_refused(path, "checksum header damaged");
}

TEST_F(ChecksumTest, NewerHeaderVersionAsksForAnUpgrade) {
  const std::string path = write_small("a.h5");
  std::vector<char> b = bytes(path);
  b[29] = '7';  // "version 1" -> "version 7"
  put(path, b);
  expect_refused(path, "newer than this build reads");
}

TEST_F(ChecksumTest, ReadWriteEditsReseal) {
  const std::string path = write_small("a.h5");
  {
    h5::File f = h5::File::open_readwrite(path);
    f.root().write_attr_int("added", 5);
    f.close();
  }
  h5::File r = h5::File::open_read(path);
  EXPECT_TRUE(r.sealed());
  EXPECT_EQ(r.root().read_attr_int("added"), 5);
}

TEST_F(ChecksumTest, FoldersAndFifosAreRefusedWithoutBlocking) {
  expect_refused(dir().string(), "folder");
  const std::string fifo = file("fifo.h5");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  expect_refused(fifo, "expected an HDF5 file (a regular file), found a FIFO");
}

}  // namespace
}  // namespace ds
