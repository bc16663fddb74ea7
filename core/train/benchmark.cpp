#include "train/benchmark.h"

#include <torch/csrc/autograd/profiler_legacy.h>
#include <torch/torch.h>
#include <torch/version.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>

#ifdef CP_WITH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#endif

#include "common/build_info.h"
#include "common/error.h"
#include "data/bpe_tokenizer.h"
#include "data/data_paths.h"
#include "data/token_cache.h"
#include "model/autocast.h"
#include "model/models.h"
#include "train/experiment.h"
#include "train/phase2.h"

namespace cp::train {
namespace F = torch::nn::functional;
using nlohmann::json;
using clock_type = std::chrono::steady_clock;


namespace {

// The device's name from the kernel (common/build_info.h), so no vendor headers are needed.
std::string device_name(const torch::Device& device) {
    if (device.is_cpu()) return cpu_model();
    const std::string gpu = gpu_model();
    return gpu.empty() ? "CUDA device " + std::to_string(device.index() < 0 ? 0 : device.index())
                       : gpu;
}

void synchronize(const torch::Device& device) {
    if (device.is_cuda()) torch::cuda::synchronize();
}

struct Peak {
    double flops = 0;
    std::string source;
};

// Dense tensor-core peaks from NVIDIA's data sheets (SXM parts); elsewhere a measured matmul.
Peak peak_for(const torch::Device& device, const std::string& name, model::Precision precision,
              double user_tflops) {
    if (user_tflops > 0) return {user_tflops * 1e12, "given with --peak-tflops"};
    if (device.is_cuda()) {
        const bool bf16 = precision == model::Precision::bf16;
        for (const char* part : {"H100", "H200"})
            if (name.find(part) != std::string::npos)
                return {bf16 ? 989.4e12 : 66.9e12,
                        std::string("stated: NVIDIA ") + part + " SXM, dense " +
                            (bf16 ? "bf16 tensor core 989.4" : "fp32 66.9") + " TFLOPS"};
        return {0, "unknown GPU: pass --peak-tflops for MFU"};
    }
    // CPU: the best of a few large matmuls in the bench's dtype is the attainable peak here.
    const auto dtype = precision == model::Precision::bf16 ? torch::kBFloat16 : torch::kFloat32;
    const std::int64_t n = 2048;
    const torch::Tensor a = torch::randn({n, n}).to(dtype), b = torch::randn({n, n}).to(dtype);
    double best = 0;
    for (int i = 0; i < 4; ++i) {
        const auto t0 = clock_type::now();
        const torch::Tensor c = torch::matmul(a, b);
        const double s = std::chrono::duration<double>(clock_type::now() - t0).count();
        if (i > 0) best = std::max(best, 2.0 * n * n * n / s);  // the first warms up
        (void)c;
    }
    return {best, "measured: best of 3 " + std::to_string(n) + "x" + std::to_string(n) + " " +
                      model::precision_key(precision) + " matmuls on this CPU (" +
                      std::to_string(torch::get_num_threads()) + " threads)"};
}

std::int64_t allocated_bytes(const torch::Device& device) {
#ifdef CP_WITH_CUDA
    if (device.is_cuda()) {
        synchronize(device);
        const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(
            device.index() < 0 ? 0 : device.index());
        return stats.allocated_bytes[0].current;  // StatType::AGGREGATE
    }
#endif
    (void)device;
    return -1;
}

}  // namespace

double training_flops_per_token(model::CausalLm& net, std::int64_t seq_length) {
    double flops = 0;
    for (const auto& module : net.modules(/*include_self=*/false))
        if (const auto* linear = dynamic_cast<const torch::nn::LinearImpl*>(module.get())) {
            const double weights = static_cast<double>(linear->weight.numel());
            flops += (linear->weight.requires_grad() ? 6.0 : 4.0) * weights;
        }
    const model::ModelConfig& c = net.config();
    return flops + 12.0 * static_cast<double>(c.layers * c.layer_width() * seq_length);
}

namespace {

struct TrainTiming {
    double seconds = 0, last_loss = 0;
};

// Phase 2's own training steps on consecutive chunks of real text (wrapping around the stream):
// warm-up steps first, then `o.steps` timed (and profiled apart when asked).
TrainTiming time_training(model::CausalLm& net, const torch::Device& device,
                          const BenchOptions& o, const std::vector<std::int64_t>& text,
                          const std::string& preset) {
    const std::vector<torch::Tensor> trainable = trainable_parameters(net);
    torch::optim::AdamW optimizer(trainable, torch::optim::AdamWOptions(1e-4));
    const std::int64_t width = o.seq_length + 1, per_batch = o.batch * width;
    std::int64_t offset = 0;
    const auto next_batch = [&] {
        std::vector<std::int64_t> ids(static_cast<std::size_t>(per_batch));
        for (auto& id : ids) {
            id = text[static_cast<std::size_t>(offset)];
            offset = (offset + 1) % static_cast<std::int64_t>(text.size());
        }
        return batch_to_device(torch::tensor(ids, torch::kInt64).view({o.batch, width}), device);
    };
    net.train();
    torch::Tensor loss;
    const auto step = [&] {  // Phase 2's own step, no gradient clipping (its default)
        const torch::Tensor batch = next_batch();
        const model::AutocastScope autocast(device, o.precision);
        loss = train_step(net, optimizer, batch, trainable, 0.0).loss;
    };
    for (std::int64_t i = 0; i < o.warmup_steps; ++i) step();
    synchronize(device);
    // The profiler's own cost is in these seconds when it is on: profile and time apart.
    std::unique_ptr<torch::autograd::profiler::RecordProfile> profile;
    if (!o.profile_dir.empty()) {
        std::filesystem::create_directories(o.profile_dir);
        profile = std::make_unique<torch::autograd::profiler::RecordProfile>(
            (std::filesystem::path(o.profile_dir) / (preset + "-trace.json")).string());
    }
    TrainTiming t;
    const auto t0 = clock_type::now();
    for (std::int64_t i = 0; i < o.steps; ++i) step();
    t.last_loss = loss.item<double>();  // waits for the device
    synchronize(device);
    t.seconds = std::chrono::duration<double>(clock_type::now() - t0).count();
    profile.reset();  // the trace ends with the timed steps
    optimizer.zero_grad();
    return t;
}

// Cached greedy generation: prefill a real prompt, then one token at a time to the length; the
// cache's bytes as its tensors hold them and, on CUDA, as the allocator saw them.
json time_generation(model::CausalLm& net, const torch::Device& device, const BenchOptions& o,
                     const std::vector<std::int64_t>& prompt) {
    net.eval();
    torch::NoGradGuard no_grad;
    const model::AutocastScope autocast(device, o.precision);
    const std::int64_t before = allocated_bytes(device);
    model::KvCache cache = net.make_cache();
    const torch::Tensor prompt_ids = torch::tensor(prompt, torch::kInt64).view({1, -1}).to(device);
    std::int64_t next = net.forward(prompt_ids, &cache)[0][-1].argmax().item<std::int64_t>();
    const std::int64_t decode_start = cache.length;
    const auto g0 = clock_type::now();
    while (cache.length < o.generate_tokens) {
        const torch::Tensor logits =
            net.forward(torch::tensor({next}, torch::kInt64).view({1, 1}).to(device), &cache);
        next = logits[0][0].argmax().item<std::int64_t>();  // waits for the device
    }
    const double decode_seconds = std::chrono::duration<double>(clock_type::now() - g0).count();
    const std::int64_t after = allocated_bytes(device);
    const double length = static_cast<double>(cache.length);
    json generation = {
        {"tokens_per_second", static_cast<double>(cache.length - decode_start) / decode_seconds},
        {"cache_tokens", cache.length},
        {"cache_dtype",
         std::string(c10::toString(cache.layers.back()->stored().at(0).scalar_type()))},
        {"kv_bytes_per_token_tensors", static_cast<double>(cache.kv_bytes()) / length},
        {"kv_allocated_bytes_tensors", cache.kv_allocated_bytes()},
        {"context_state_bytes", cache.state_bytes()},
        {"kv_bytes_per_token_allocator",
         before >= 0 ? json(static_cast<double>(after - before) / length) : json(nullptr)},
    };
    generation["allocator_note"] =
        before < 0 ? "the caching allocator's statistics exist on CUDA only"
                   : "allocated bytes while the cache is alive minus before it (cache capacity "
                     "equals its length at a power of two; includes the context state)";
    return generation;
}

json bench_model(const std::string& preset, const torch::Device& device, const BenchOptions& o,
                 const std::vector<std::int64_t>& text, const std::vector<std::int64_t>& prompt,
                 const Peak& peak) {
    auto net = model::make_model(model::preset(preset), 0);
    net->to(device);
    // Phase 2 as the experiment runs it: a ContextBlock is frozen.
    if (auto* reader = dynamic_cast<model::ContextBlockModel*>(net.get()))
        reader->freeze_context_block();
    const model::ParameterCounts counts = model::count_parameters(*net);
    const TrainTiming train = time_training(*net, device, o, text, preset);
    const double tokens = static_cast<double>(o.steps * o.batch * o.seq_length);
    const double tokens_per_second = tokens / train.seconds;
    const double flops_per_token = training_flops_per_token(*net, o.seq_length);
    const double flops_per_second = flops_per_token * tokens_per_second;
    const json generation = time_generation(*net, device, o, prompt);
    return {{"parameters_total", counts.total},
            {"parameters_trainable", counts.trainable},
            {"train_tokens_per_second", tokens_per_second},
            {"seconds_per_step", train.seconds / static_cast<double>(o.steps)},
            {"last_loss", train.last_loss},
            {"flops_per_token", flops_per_token},
            {"model_flops_per_second", flops_per_second},
            {"mfu", peak.flops > 0 ? json(flops_per_second / peak.flops) : json(nullptr)},
            {"generation", generation}};
}

// Each design against Pythia: "<design>_over_pythia_..." ("context_over_pythia_..." for
// Context-Pythia, the names earlier benchmark files use).
json ratios_to_pythia(const json& models, const std::vector<model::Design>& designs) {
    const json& p = models["pythia"];
    json ratios = json::object();
    for (model::Design d : designs) {
        if (d == model::Design::pythia) continue;
        const json& c = models[model::design_key(d)];
        const std::string who = d == model::Design::context_pythia ? "context" : model::design_key(d);
        ratios[who + "_over_pythia_seconds_per_step"] =
            c["seconds_per_step"].get<double>() / p["seconds_per_step"].get<double>();
        ratios[who + "_over_pythia_kv_bytes_tensors"] =
            c["generation"]["kv_bytes_per_token_tensors"].get<double>() /
            p["generation"]["kv_bytes_per_token_tensors"].get<double>();
        if (!p["generation"]["kv_bytes_per_token_allocator"].is_null())
            ratios[who + "_over_pythia_kv_bytes_allocator"] =
                c["generation"]["kv_bytes_per_token_allocator"].get<double>() /
                p["generation"]["kv_bytes_per_token_allocator"].get<double>();
    }
    return ratios;
}

}  // namespace

json run_benchmark(const BenchOptions& o) {
    o.validate();
    // The attention path for every model here, restored afterwards (the switch is global).
    const bool fused_before = model::fused_attention();
    model::set_fused_attention(o.attention == "fused");
    struct Restore {
        bool on;
        ~Restore() { model::set_fused_attention(on); }
    } restore{fused_before};
    if (o.threads > 0) torch::set_num_threads(static_cast<int>(o.threads));
    const std::string device_type = choose_device(o.device);
    const torch::Device device(device_type == "cuda" ? torch::kCUDA : torch::kCPU);

    // Real text: Brown's training documents, and a prompt from its held-out ones.
    data::BpeTokenizer tokenizer = data::BpeTokenizer::load(data::default_tokenizer_path());
    data::PrepareOptions prepare;
    prepare.cache_dir = data::default_cache_dir();
    const data::TokenizedCorpus brown =
        data::TokenizedCorpus::prepare(data::resolve_corpus("brown"), tokenizer, prepare);
    std::vector<std::int64_t> text, prompt;
    for (data::TokenId id : brown.stream(data::Split::train, tokenizer.end_of_text()))
        text.push_back(id);
    for (data::TokenId id : brown.stream(data::Split::test, tokenizer.end_of_text())) {
        if (prompt.size() == 64) break;
        prompt.push_back(id);
    }

    const std::string name = device_name(device);
    const Peak peak = peak_for(device, name, o.precision, o.peak_tflops);
    // Pythia first, then each other design once, in the order asked.
    std::vector<model::Design> designs = {model::Design::pythia};
    for (model::Design d : o.models)
        if (std::find(designs.begin(), designs.end(), d) == designs.end()) designs.push_back(d);
    json models = json::object();
    for (model::Design d : designs)
        models[model::design_key(d)] = bench_model(std::string(model::design_key(d)) + "-" + model::size_key(o.size),
                                                   device, o, text, prompt, peak);
    const json ratios = ratios_to_pythia(models, designs);
    return {
        {"command", o.command},
        {"device", {{"type", device_type}, {"name", name}, {"threads", torch::get_num_threads()}}},
        {"libtorch", TORCH_VERSION},
        {"size", model::size_key(o.size)},
        {"dtype", model::precision_key(o.precision)},
        // What ran: the fused kernel exists from libtorch 2.0 on.
        {"attention", o.attention == "fused" && TORCH_VERSION_MAJOR >= 2 ? "fused (SDPA)" : "explicit"},
        {"batch", o.batch},
        {"seq_length", o.seq_length},
        {"steps", o.steps},
        {"warmup_steps", o.warmup_steps},
        {"text", "Brown (training documents), GPT-2 BPE"},
        {"peak", {{"flops", peak.flops}, {"source", peak.source}}},
        {"mfu_formula",
         "(6 x trained Linear weights + 4 x frozen Linear weights + 12 x layers x width x "
         "seq_length) x train tokens/s / peak; embed_in (a lookup), biases and norms not "
         "counted (MODEL_SPEC §5)"},
        {"models", models},
        {"ratios", ratios}};
}

}  // namespace cp::train
