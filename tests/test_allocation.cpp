// No heap allocation in a steady-state training step (one thread): after a
// warm-up step has sized every workspace and the optimiser's state, 100 more
// steps of the paper's trainer, with and without KernelEntropy, must allocate
// nothing.
//
// Two counters: the global operator new/delete are replaced by counting
// versions (std::vector, std::string, ...), and, on glibc, malloc and its
// relatives are too, because Eigen allocates its matrices and its GEMM
// workspaces with std::malloc, not operator new. Under AddressSanitizer the
// malloc counter is off (ASan must own malloc); operator new is still counted.
#include <doctest/doctest.h>

#include <Eigen/Core>
#include <atomic>
#include <cmath>
#include <cstddef>
#include <cstdlib>
#include <deepenergy/datasets.hpp>
#include <deepenergy/deepenergy.hpp>
#include <new>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#define DEEPENERGY_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define DEEPENERGY_TEST_ASAN 1
#endif
#endif

#if defined(__GLIBC__) && !defined(DEEPENERGY_TEST_ASAN)
#define DEEPENERGY_COUNT_MALLOC 1
#endif

namespace {
std::atomic<long> g_new_calls{0};
std::atomic<long> g_malloc_calls{0};
void* volatile g_escape = nullptr;
}  // namespace

// ---- operator new/delete: count, then use malloc/free ----------------------
// release() is out of line so that GCC's -Wmismatched-new-delete does not
// take the replacement operator delete's free() for a mismatch.
[[gnu::noinline]] static void release(void* p) noexcept {
  std::free(p);
}
void* operator new(std::size_t n) {
  ++g_new_calls;
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) {
  ++g_new_calls;
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  ++g_new_calls;
  return std::malloc(n ? n : 1);
}
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
  ++g_new_calls;
  return std::malloc(n ? n : 1);
}
void operator delete(void* p) noexcept {
  release(p);
}
void operator delete[](void* p) noexcept {
  release(p);
}
void operator delete(void* p, std::size_t) noexcept {
  release(p);
}
void operator delete[](void* p, std::size_t) noexcept {
  release(p);
}
void operator delete(void* p, const std::nothrow_t&) noexcept {
  release(p);
}
void operator delete[](void* p, const std::nothrow_t&) noexcept {
  release(p);
}

#ifdef DEEPENERGY_COUNT_MALLOC
// ---- malloc and relatives: count, then forward to glibc's implementation ----
// free() is not replaced: every block still comes from glibc's allocator.
extern "C" {
void* __libc_malloc(std::size_t);
void* __libc_calloc(std::size_t, std::size_t);
void* __libc_realloc(void*, std::size_t);
void* __libc_memalign(std::size_t, std::size_t);

void* malloc(std::size_t n) noexcept {
  ++g_malloc_calls;
  return __libc_malloc(n);
}
void* calloc(std::size_t n, std::size_t size) noexcept {
  ++g_malloc_calls;
  return __libc_calloc(n, size);
}
void* realloc(void* p, std::size_t n) noexcept {
  ++g_malloc_calls;
  return __libc_realloc(p, n);
}
void* aligned_alloc(std::size_t alignment, std::size_t n) noexcept {
  ++g_malloc_calls;
  return __libc_memalign(alignment, n);
}
int posix_memalign(void** out, std::size_t alignment, std::size_t n) noexcept {
  ++g_malloc_calls;
  void* p = __libc_memalign(alignment, n);
  if (!p) return 12;  // ENOMEM
  *out = p;
  return 0;
}
}
#endif

using namespace deepenergy;

namespace {

struct Counts {
  long news = 0, mallocs = 0;
};

// Warm-up step, then `steps` steps with the counters watched.
template <class Trainer>
Counts count_steps(Trainer& trainer, const Matrix<float>& data, int steps) {
  trainer.step(data);
  trainer.step(data);
  const long n0 = g_new_calls.load(), m0 = g_malloc_calls.load();
  double sink = 0.0;
  for (int i = 0; i < steps; ++i) sink += trainer.step(data).energy_loss;
  Counts c{g_new_calls.load() - n0, g_malloc_calls.load() - m0};
  REQUIRE(std::isfinite(sink));
  return c;
}

template <class... Terms>
using TrainerOf = DeepEnergyGAN<paper::Energy<float>, paper::Gen<float>, AdaGrad, Terms...>;

// Sets Eigen's thread count for a scope.
struct Threads {
  explicit Threads(int n) { Eigen::setNbThreads(n); }
  ~Threads() { Eigen::setNbThreads(1); }
  Threads(const Threads&) = delete;
  Threads& operator=(const Threads&) = delete;
};

template <class... Terms>
void check_no_allocation(Index batch, Index langevin_steps = 0, int threads = 1,
                         double langevin_restart = 1.0, double energy_average = 0.0,
                         Index langevin_jumps = 0) {
  const Threads pin(threads);
  const Matrix<float> data = datasets::two_spiral<float>(4096, 3);
  TrainerOptions opt;
  opt.batch_size = batch;
  opt.seed = 9;
  opt.langevin_steps = langevin_steps;
  opt.langevin_restart = langevin_restart;
  opt.energy_average = energy_average;
  opt.langevin_jumps = langevin_jumps;
  TrainerOf<Terms...> trainer(paper::make_energy<float>(), paper::make_generator<float>(), opt,
                              AdaGrad{}, Terms{}...);
  const Counts c = count_steps(trainer, data, 100);
  INFO("batch " << batch << ", Langevin steps " << langevin_steps << ", restart "
                << langevin_restart << ", energy average " << energy_average << ", jumps "
                << langevin_jumps << ", threads " << threads << ": operator new calls " << c.news
                << ", malloc calls " << c.mallocs);
  CHECK(c.news == 0);
#ifdef DEEPENERGY_COUNT_MALLOC
  CHECK(c.mallocs == 0);
#endif
}

}  // namespace

TEST_CASE("the counting allocators see allocations") {
  const long n0 = g_new_calls.load(), m0 = g_malloc_calls.load();
  g_escape = new std::vector<int>(100);  // through a volatile pointer: not elided
  delete static_cast<std::vector<int>*>(g_escape);
  Matrix<float> m(64, 64);
  m.setZero();
  CHECK(g_new_calls.load() - n0 >= 2);
#ifdef DEEPENERGY_COUNT_MALLOC
  CHECK(g_malloc_calls.load() - m0 >= 3);  // both news and the Eigen matrix
#else
  (void)m0;
  MESSAGE("malloc is not counted under AddressSanitizer or without glibc: only operator new is");
#endif
}

TEST_CASE("a steady-state train step of the paper trainer allocates nothing") {
  check_no_allocation<>(64);
  check_no_allocation<>(1024);
  check_no_allocation<>(1001);  // column blocks of 251, the last overlapping by 3
  check_no_allocation<>(1001, 2);
  check_no_allocation<>(64, 2, 1, 0.3);  // persistent chains
  check_no_allocation<>(1001, 2, 1, 0.3);
  check_no_allocation<>(64, 0, 1, 1.0, 0.999);   // the energy's average
  check_no_allocation<>(64, 2, 1, 1.0, 0.0, 3);  // mode-jumping moves
  check_no_allocation<>(1001, 2, 1, 1.0, 0.0, 3);
}

TEST_CASE("swapping the energy's average in and out allocates nothing") {
  TrainerOptions opt;
  opt.energy_average = 0.999;
  TrainerOf<> trainer(paper::make_energy<float>(), paper::make_generator<float>(), opt);
  trainer.step(datasets::two_spiral<float>(512, 3));
  REQUIRE(!trainer.energy_average().empty());
  const long n0 = g_new_calls.load(), m0 = g_malloc_calls.load();
  for (int i = 0; i < 10; ++i) trainer.swap_energy_average();
  const long news = g_new_calls.load() - n0, mallocs = g_malloc_calls.load() - m0;
  CHECK(news == 0);
#ifdef DEEPENERGY_COUNT_MALLOC
  CHECK(mallocs == 0);
#else
  (void)mallocs;
#endif
}

#ifdef _OPENMP
// Two threads share the column blocks, each with its own copy of the networks.
TEST_CASE("a steady-state train step on two threads in column blocks allocates nothing") {
  check_no_allocation<>(1024, 0, 2);
  check_no_allocation<>(1001, 2, 2);
  check_no_allocation<>(1001, 2, 2, 0.3);
  check_no_allocation<>(1001, 2, 2, 1.0, 0.0, 3);  // mode-jumping moves
}
#endif

TEST_CASE("a steady-state train step with KernelEntropy allocates nothing") {
  check_no_allocation<KernelEntropy<float>>(64);
  check_no_allocation<KernelEntropy<float>>(1024);
  check_no_allocation<KernelEntropy<float>>(1001);
  check_no_allocation<KernelEntropy<float>>(1001, 2);
}

TEST_CASE("a steady-state train step with MutualInformationEntropy allocates nothing") {
  check_no_allocation<MutualInformationEntropy<float>>(64);
  check_no_allocation<MutualInformationEntropy<float>>(1001);
}

// KernelEntropy's k-nearest-neighbour form (10 neighbours).
struct NeighbourEntropy : KernelEntropy<float> {
  NeighbourEntropy() : KernelEntropy<float>(1.0, 0.0, 10) {}
};

TEST_CASE("a steady-state train step with KernelEntropy's neighbour form allocates nothing") {
  check_no_allocation<NeighbourEntropy>(64);
  check_no_allocation<NeighbourEntropy>(1024);
}
