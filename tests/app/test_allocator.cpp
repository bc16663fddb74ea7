// The allocator's configuration, checked against jemalloc's own statistics: pages a freed tensor
// used stay with the process for the next step (what makes a training step cheap on CPU), and
// release_cached_memory() hands them back (what the workbench does when an experiment ends).
#include <gtest/gtest.h>
#include <jemalloc/jemalloc.h>

#include <cstdint>
#include <cstdlib>

#include "common/allocator.h"

namespace {

// Bytes in pages jemalloc holds physically resident: its statistics, refreshed first.
std::size_t resident_bytes() {
    std::uint64_t epoch = 1;
    std::size_t size = sizeof(epoch);
    mallctl("epoch", &epoch, &size, &epoch, size);
    std::size_t resident = 0;
    size = sizeof(resident);
    EXPECT_EQ(mallctl("stats.resident", &resident, &size, nullptr, 0), 0)
        << "jemalloc without statistics";
    return resident;
}

constexpr std::size_t kLogits = 32 * 32 * 50304 * sizeof(float);  // one tiny step's logits, 206 MB

}  // namespace

TEST(Allocator, FreedLogitsStayForTheNextStepUntilReleased) {
    cp::release_cached_memory();
    const std::size_t before = resident_bytes();
    auto* block = static_cast<unsigned char*>(std::malloc(kLogits));
    ASSERT_NE(block, nullptr);
    // Every page touched, as a forward pass writes its logits (volatile: not optimised away).
    for (std::size_t i = 0; i < kLogits; i += 4096) static_cast<volatile unsigned char*>(block)[i] = 1;
    std::free(block);
    const std::size_t kept = resident_bytes();
    EXPECT_GE(kept, before + kLogits * 9 / 10) << "the freed pages went back to the system";
    cp::release_cached_memory();
    EXPECT_LE(resident_bytes(), before + kLogits / 10) << "release_cached_memory kept the pages";
}
