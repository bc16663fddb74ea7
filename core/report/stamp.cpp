#include "report/stamp.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <sstream>

namespace cp::report {
using nlohmann::json;

Stamp stamp_of(store::RunStore& store, std::int64_t experiment_id) {
    Stamp s;
    const json params = json::parse(store.experiment(experiment_id).params_json, nullptr, false);
    if (!params.is_object() || !params.contains("stamp") || !params["stamp"].is_object()) return s;
    const json& j = params["stamp"];
    const auto text = [](const json& v) { return v.is_string() ? v.get<std::string>() : std::string(); };
    s.recorded = true;
    if (j.contains("workbench")) {
        s.version = text(j["workbench"].value("version", json()));
        s.commit = text(j["workbench"].value("commit", json()));
    }
    s.device = text(j.value("device", json()));
    s.command = text(j.value("command", json()));
    if (j.contains("libraries") && j["libraries"].is_object())
        for (const auto& [name, version] : j["libraries"].items())
            s.libraries.emplace_back(name, text(version));
    if (j.contains("data") && j["data"].is_object()) {
        s.tokenizer = text(j["data"].value("tokenizer", json()));
        if (j["data"].contains("corpora") && j["data"]["corpora"].is_array())
            for (const json& c : j["data"]["corpora"]) {
                std::string line = text(c.value("corpus", json()));
                const std::string package = text(c.value("package", json()));
                line += ": " + (package.empty() ? text(c.value("path", json())) : package);
                const std::string cache = text(c.value("token_cache", json()));
                if (!cache.empty()) line += " (token cache " + cache + ")";
                s.corpora.push_back(line);
            }
    }
    if (j.contains("seeds") && j["seeds"].is_object()) {
        const json& seeds = j["seeds"];
        if (seeds.value("seed", json()).is_number_unsigned()) s.seed = seeds["seed"].get<std::uint64_t>();
        if (seeds.value("seeds", json()).is_number_integer()) s.seeds = seeds["seeds"].get<std::int64_t>();
        s.group = text(seeds.value("group", json()));
    }
    return s;
}

std::string stamp_text(const Stamp& s) {
    if (!s.recorded) return "  (recorded before the workbench kept a reproducibility stamp)\n";
    std::ostringstream out;
    out << "  workbench   " << s.version << " (commit " << s.commit << ")\n";
    out << "  libraries  ";
    for (const auto& [name, version] : s.libraries) out << " " << name << " " << version << ";";
    out << "\n  device      " << s.device << "\n";
    for (const std::string& c : s.corpora) out << "  corpus      " << c << "\n";
    out << "  tokenizer   " << s.tokenizer << "\n";
    out << "  seed        " << s.seed;
    if (s.seeds > 1) out << " (one of " << s.seeds << " seeds, group " << s.group << ")";
    out << "\n  command     " << s.command << "\n";
    return out.str();
}

std::string run_files_text(store::RunStore& store, std::int64_t run_id) {
    std::string out;
    for (const store::RunFile& f : store.run_files(run_id)) {
        std::string role = f.role;
        role.resize(std::max<std::size_t>(role.size(), 16), ' ');
        out += "  " + role + f.path.string() + "\n    ";
        out += f.origin == store::FileOrigin::unverified
                   ? "UNVERIFIED: written before checkpoints were hashed, into a folder every "
                     "database shared; it may be another database's"
                   : std::string(store::file_origin_key(f.origin)) + ", " + std::to_string(f.size) +
                         " bytes, sha256 " + f.sha256;
        out += "\n";
    }
    return out;
}

}  // namespace cp::report
