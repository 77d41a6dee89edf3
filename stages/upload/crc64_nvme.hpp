// CRC-64/NVME (poly 0xad93d23594c93659, reflected, init and final XOR all ones; check value of
// "123456789" 0xae8b14860a799888), the CRC64NVME of S3's checksums. ISA-L has it from 2.31 on
// (crc64_rocksoft_refl) and it is used when present; Debian 12's 2.30 has not, so it is
// computed here: carry-less multiplication (PCLMULQDQ) where the CPU has it, else a
// slice-by-8 table.
#pragma once

#include <cstdint>
#include <span>

namespace piperun::stages::upload {

// `crc` is the finished CRC of the bytes before `bytes` (0 for none); returns the finished CRC
// of both, so a split input gives the value of the whole, as zlib's crc32() does.
std::uint64_t crc64_nvme(std::uint64_t crc, std::span<const std::byte> bytes);

// The same with the table alone, whatever the CPU: the fallback, kept callable so that tests
// check it on machines that never take it.
std::uint64_t crc64_nvme_portable(std::uint64_t crc, std::span<const std::byte> bytes);

}  // namespace piperun::stages::upload
