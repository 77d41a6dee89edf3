// zstd's speed on one core for the frames pipe-run makes: each file of a tree cut into frames
// of CHUNK bytes (pipeline.chunk_size), every frame compressed with one reused context, the
// content checksum on (as pipe-run and the zstd command do). The files are loaded first, so
// only compression is timed, as `zstd -b` times it; `zstd -b -r` also compresses a frame per
// file, but measures each file on its own and reported 20-30% less here.
//
//   build/release/zstd_frames TREE [LEVEL=3] [CHUNK_MIB=2] [ROUNDS=3]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <zstd.h>

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s TREE [LEVEL=3] [CHUNK_MIB=2] [ROUNDS=3]\n", argv[0]);
    return 2;
  }
  const int level = argc > 2 ? std::atoi(argv[2]) : 3;
  const std::size_t chunk = (argc > 3 ? std::strtoull(argv[3], nullptr, 10) : 2) << 20;
  const int rounds = argc > 4 ? std::atoi(argv[4]) : 3;

  std::vector<std::string> files;
  std::size_t total = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(argv[1])) {
    if (entry.is_symlink() || !entry.is_regular_file()) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    files.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    total += files.back().size();
  }

  ZSTD_CCtx* context = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(context, ZSTD_c_compressionLevel, level);
  ZSTD_CCtx_setParameter(context, ZSTD_c_checksumFlag, 1);
  std::vector<char> frame(ZSTD_compressBound(chunk));
  std::vector<double> seconds;
  std::size_t compressed = 0;
  for (int round = 0; round < rounds; ++round) {
    compressed = 0;
    const auto start = std::chrono::steady_clock::now();
    for (const std::string& file : files) {
      // An empty file is one empty frame, as in pipe-run.
      for (std::size_t offset = 0; offset == 0 || offset < file.size(); offset += chunk) {
        const std::size_t size = std::min(chunk, file.size() - offset);
        const std::size_t result =
            ZSTD_compress2(context, frame.data(), frame.size(), file.data() + offset, size);
        if (ZSTD_isError(result)) {
          std::fprintf(stderr, "zstd: %s\n", ZSTD_getErrorName(result));
          return 1;
        }
        compressed += result;
      }
    }
    seconds.push_back(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  ZSTD_freeCCtx(context);
  // The fastest round, as `zstd -b` reports: the least disturbed by other work on the machine.
  const double fastest = *std::min_element(seconds.begin(), seconds.end());
  std::printf(
      "%zu files, %.1f MB -> %.1f MB, level %d, %zu MiB frames: %.1f MB/s a core "
      "(fastest of %d rounds, %.3f s)\n",
      files.size(), total / 1e6, compressed / 1e6, level, chunk >> 20, total / 1e6 / fastest,
      rounds, fastest);
}
