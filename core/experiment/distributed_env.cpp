#include "experiment/distributed_env.h"

#include <cstdlib>

#include "common/error.h"
#include "common/numbers.h"

namespace cp::train {

std::string DistributedEnv::describe() const {
    if (!distributed()) return "a single process";
    return "rank " + std::to_string(rank) + " of " + std::to_string(world_size) + " (" + launcher +
           ", local rank " + std::to_string(local_rank) + ", master " + master_addr + ":" +
           std::to_string(master_port) + ")";
}

std::string first_slurm_host(const std::string& nodelist) {
    // The first entry: up to a comma outside brackets.
    std::string first;
    int depth = 0;
    for (char c : nodelist) {
        if (c == '[') ++depth;
        if (c == ']') --depth;
        if (c == ',' && depth == 0) break;
        first += c;
    }
    const auto open = first.find('[');
    if (open == std::string::npos) return first;
    // "node[03-05,07]": the prefix and the first number of the range, leading zeros kept.
    const std::string prefix = first.substr(0, open);
    std::string inside = first.substr(open + 1);
    if (!inside.empty() && inside.back() == ']') inside.pop_back();
    std::string number;
    for (char c : inside) {
        if (c == '-' || c == ',') break;
        number += c;
    }
    return prefix + number;
}

DistributedEnv read_distributed_env(
    const std::function<std::optional<std::string>(const std::string&)>& get) {
    DistributedEnv env;
    const auto integer = [&](const std::string& name) -> std::optional<std::int64_t> {
        const auto v = get(name);
        if (!v) return std::nullopt;
        const auto n = parse_whole_number(*v);
        if (!n) throw Error(name + " must be a whole number (got '" + *v + "')");
        return n;
    };
    if (const auto world = integer("WORLD_SIZE")) {
        env.launcher = "torchrun";
        env.world_size = *world;
        const auto rank = integer("RANK");
        if (!rank) throw Error("WORLD_SIZE is set but RANK is not: launch with torchrun, or set both");
        env.rank = *rank;
        env.local_rank = integer("LOCAL_RANK").value_or(env.rank);
        env.master_addr = get("MASTER_ADDR").value_or("127.0.0.1");
        env.master_port = integer("MASTER_PORT").value_or(29500);
    } else if (const auto tasks = integer("SLURM_NTASKS"); tasks && *tasks > 1 && get("SLURM_PROCID")) {
        env.launcher = "srun";
        env.world_size = *tasks;
        env.rank = *integer("SLURM_PROCID");
        env.local_rank = integer("SLURM_LOCALID").value_or(0);
        const auto nodes = get("SLURM_JOB_NODELIST");
        env.master_addr = get("MASTER_ADDR").value_or(nodes ? first_slurm_host(*nodes) : "127.0.0.1");
        // A port every task of the job agrees on: MASTER_PORT, or one from the job id.
        const auto job = integer("SLURM_JOB_ID");
        env.master_port = integer("MASTER_PORT").value_or(job ? 20000 + (*job % 20000) : 29500);
    } else {
        return env;  // one process
    }
    if (env.world_size < 1) throw Error("WORLD_SIZE must be at least 1");
    if (env.rank < 0 || env.rank >= env.world_size)
        throw Error("rank " + std::to_string(env.rank) + " is outside 0.." +
                    std::to_string(env.world_size - 1) + " (" + env.launcher + "'s variables)");
    if (env.master_port < 1 || env.master_port > 65535)
        throw Error("MASTER_PORT " + std::to_string(env.master_port) + " is not a port");
    return env;
}

DistributedEnv distributed_env_from_process() {
    return read_distributed_env([](const std::string& name) -> std::optional<std::string> {
        const char* v = std::getenv(name.c_str());
        if (!v || !*v) return std::nullopt;
        return std::string(v);
    });
}

}  // namespace cp::train
