#include "model/cache_policy.h"

#include <map>
#include <sstream>

#include "common/error.h"
#include "common/numbers.h"

namespace cp::model {
namespace {

struct PolicyName {
    PolicyKind kind;
    const char* key;
    const char* parameters;  // the keys it takes, in order
};

constexpr PolicyName kPolicies[] = {
    {PolicyKind::full, "full", ""},
    {PolicyKind::int8, "int8", "group,residual,budget"},
    {PolicyKind::int4, "int4", "group,residual,budget"},
    {PolicyKind::lowrank, "lowrank", "rank,target,basis,seed,budget"},
    {PolicyKind::streaming, "streaming", "sinks,window,budget"},
    {PolicyKind::h2o, "h2o", "budget,window,sinks"},
    {PolicyKind::snapkv, "snapkv", "budget,observation,kernel"},
};

const PolicyName& name_of(PolicyKind k) {
    for (const PolicyName& n : kPolicies)
        if (n.kind == k) return n;
    return kPolicies[0];
}

std::vector<std::string> split(const std::string& s, char sep) {
    std::vector<std::string> out;
    std::string part;
    std::istringstream in(s);
    while (std::getline(in, part, sep)) out.push_back(part);
    return out;
}

bool takes(PolicyKind k, const std::string& key) {
    for (const std::string& p : split(name_of(k).parameters, ','))
        if (p == key) return true;
    return false;
}

std::int64_t whole(const std::string& policy, const std::string& key, const std::string& value) {
    const auto v = parse_whole_number(value);
    if (!v)
        throw Error("policy '" + policy + "': " + key + " must be a whole number (got '" + value +
                    "')");
    return *v;
}

// Rules of one policy's own parameters, before any model is known.
void check(const CachePolicy& p) {
    const std::string who = std::string("policy '") + policy_key(p.kind) + "': ";
    if (p.fraction != 0 && (p.fraction < 0 || p.fraction > 1))
        throw Error(who + "budget " + short_number(p.fraction) +
                    " is outside (0, 1]: a budget is a fraction of the full cache's bytes "
                    "(e.g. budget=0.25)");
    if (p.fraction > 0) {
        // The knob the budget solves is not checked here; the rest are.
        if (p.kind == PolicyKind::int8 || p.kind == PolicyKind::int4) {
            CachePolicy knobs = p;
            knobs.fraction = 0;
            check(knobs);
        }
        return;
    }
    switch (p.kind) {
        case PolicyKind::int8:
        case PolicyKind::int4:
            if (p.group < 1) throw Error(who + "group must be at least 1 (got " + std::to_string(p.group) + ")");
            if (p.residual < 0)
                throw Error(who + "residual must be 0 or more (got " + std::to_string(p.residual) + ")");
            if (p.kind == PolicyKind::int4 && p.group % 2 != 0)
                throw Error(who + "group " + std::to_string(p.group) +
                            " is odd, but int4 packs two codes to a byte: choose an even group "
                            "(e.g. group=32)");
            return;
        case PolicyKind::lowrank:
            if (p.rank < 1)
                throw Error(who + "rank is required and must be at least 1 (e.g. lowrank:rank=8)");
            return;
        case PolicyKind::streaming:
            if (p.sinks < 0) throw Error(who + "sinks must be 0 or more");
            if (p.window < 1) throw Error(who + "window must be at least 1");
            return;
        case PolicyKind::h2o:
            if (p.sinks < 0) throw Error(who + "sinks must be 0 or more");
            if (p.window < 0) throw Error(who + "window must be 0 or more");
            if (p.budget < p.sinks + p.window || p.budget < 1)
                throw Error(who + "budget " + std::to_string(p.budget) + " is below sinks + window (" +
                            std::to_string(p.sinks) + " + " + std::to_string(p.window) +
                            "): raise the budget or shrink the window");
            return;
        case PolicyKind::snapkv:
            if (p.observation < 1) throw Error(who + "observation must be at least 1");
            if (p.kernel < 1 || p.kernel % 2 == 0)
                throw Error(who + "kernel must be odd and at least 1 (got " + std::to_string(p.kernel) + ")");
            if (p.budget < p.observation)
                throw Error(who + "budget " + std::to_string(p.budget) +
                            " is below the observation window (" + std::to_string(p.observation) +
                            "): raise the budget or shrink the observation window");
            return;
        case PolicyKind::full:
            return;
    }
}

// A policy with its own defaults: H2O's recent window is smaller than StreamingLLM's and keeps no
// sinks unless asked (its paper keeps none).
CachePolicy defaults_for(PolicyKind k) {
    CachePolicy p;
    p.kind = k;
    if (k == PolicyKind::h2o) {
        p.window = 16;
        p.sinks = 0;
    }
    return p;
}

}  // namespace

const char* policy_key(PolicyKind k) {
    return name_of(k).key;
}

std::string policy_keys_text() {
    std::string s;
    for (const PolicyName& n : kPolicies) s += (s.empty() ? "" : ", ") + std::string(n.key);
    return s;
}

bool CachePolicy::evicts() const {
    return kind == PolicyKind::streaming || kind == PolicyKind::h2o || kind == PolicyKind::snapkv;
}

std::string CachePolicy::text() const {
    std::ostringstream s;
    s << policy_key(kind);
    if (fraction > 0) {  // not solved yet: the budget is all there is to say
        s << ":budget=" << short_number(fraction);
        if (kind == PolicyKind::lowrank)
            s << ",target=" << (target == LowRankTarget::k ? "k" : target == LowRankTarget::v ? "v" : "kv");
        return s.str();
    }
    switch (kind) {
        case PolicyKind::full:
            break;
        case PolicyKind::int8:
        case PolicyKind::int4:
            s << ":group=" << group << ",residual=" << residual;
            break;
        case PolicyKind::lowrank:
            s << ":rank=" << rank << ",target="
              << (target == LowRankTarget::k ? "k" : target == LowRankTarget::v ? "v" : "kv")
              << ",basis=" << (basis == LowRankBasis::pca ? "pca" : "random");
            if (basis == LowRankBasis::random) s << ",seed=" << basis_seed;
            break;
        case PolicyKind::streaming:
            s << ":sinks=" << sinks << ",window=" << window;
            break;
        case PolicyKind::h2o:
            s << ":budget=" << budget << ",window=" << window << ",sinks=" << sinks;
            break;
        case PolicyKind::snapkv:
            s << ":budget=" << budget << ",observation=" << observation << ",kernel=" << kernel;
            break;
    }
    return s.str();
}

std::string CachePolicy::label() const {
    if (fraction > 0) return std::string(policy_key(kind)) + " at " + short_number(fraction);
    switch (kind) {
        case PolicyKind::full:
        case PolicyKind::int8:
        case PolicyKind::int4:
            return policy_key(kind);
        case PolicyKind::lowrank:
            return std::string("lowrank ") +
                   (target == LowRankTarget::k ? "K" : target == LowRankTarget::v ? "V" : "KV") +
                   " r" + std::to_string(rank) + (basis == LowRankBasis::pca ? " pca" : " random");
        case PolicyKind::streaming:
            return "streaming " + std::to_string(sinks) + "+" + std::to_string(window);
        case PolicyKind::h2o:
            return "h2o " + std::to_string(budget);
        case PolicyKind::snapkv:
            return "snapkv " + std::to_string(budget);
    }
    return "?";
}

std::vector<std::string> CachePolicy::problems_for(const ModelConfig& c) const {
    std::vector<std::string> p;
    const std::string who = std::string("policy '") + policy_key(kind) + "': ";
    // The cached width per head: head_dim for K/V caches; MLA caches a rotary key and a latent.
    const bool latent = c.kv_latent > 0;
    if (c.architecture == Design::pythia_input_cache && kind != PolicyKind::full) {
        p.push_back(who + "pythia-input-cache caches each layer's input, not K and V: only the "
                          "full policy applies to it");
        return p;
    }
    if (kind == PolicyKind::lowrank) {
        const std::int64_t widest = latent ? std::min(c.rotary_dims(), c.kv_latent) : c.head_dim();
        const bool k = target != LowRankTarget::v, v = target != LowRankTarget::k;
        const std::int64_t k_width = latent ? c.rotary_dims() : c.head_dim();
        const std::int64_t v_width = latent ? c.kv_latent : c.head_dim();
        if ((k && rank > k_width) || (v && rank > v_width))
            p.push_back(who + "rank " + std::to_string(rank) + " is larger than the " +
                        (latent ? "cached width" : "head_dim") + " (" +
                        std::to_string(k && rank > k_width ? k_width : v_width) + ") of " +
                        design_key(c.architecture) + ": choose rank 1.." +
                        std::to_string(k && v ? widest : (k ? k_width : v_width)));
    }
    if (kind == PolicyKind::int8 || kind == PolicyKind::int4) {
        // V is quantized per token over groups of min(group, width) channels.
        for (const std::int64_t width :
             latent ? std::vector<std::int64_t>{c.rotary_dims(), c.kv_latent}
                    : std::vector<std::int64_t>{c.head_dim()}) {
            const std::int64_t g = std::min(group, width);
            if (width % g != 0 || (kind == PolicyKind::int4 && g % 2 != 0))
                p.push_back(who + "group " + std::to_string(group) +
                            " does not divide the cached width " + std::to_string(width) + " of " +
                            design_key(c.architecture) +
                            " into even groups of channels: choose a group that divides it");
        }
    }
    return p;
}

namespace {

// budget=: a fraction of the full cache's bytes ("0.25"); for h2o and snapkv a whole number stays
// their token budget.
void set_budget(CachePolicy& p, const std::string& name, const std::string& value) {
    const bool tokens = (p.kind == PolicyKind::h2o || p.kind == PolicyKind::snapkv) &&
                        value.find('.') == std::string::npos;
    if (tokens) {
        p.budget = whole(name, "budget", value);
        return;
    }
    const auto f = parse_number(value);
    if (!f) throw Error("policy '" + name + "': budget must be a number (got '" + value + "')");
    p.fraction = *f;
    if (p.fraction == 0)
        throw Error("policy '" + name + "': budget 0 is outside (0, 1]: a budget "
                    "is a fraction of the full cache's bytes (e.g. budget=0.25)");
}

// One key=value of a policy the kind takes.
void set_parameter(CachePolicy& p, const std::string& name, const std::string& key,
                   const std::string& value) {
    if (key == "group") p.group = whole(name, key, value);
    else if (key == "residual") p.residual = whole(name, key, value);
    else if (key == "rank") p.rank = whole(name, key, value);
    else if (key == "sinks") p.sinks = whole(name, key, value);
    else if (key == "window") p.window = whole(name, key, value);
    else if (key == "budget") set_budget(p, name, value);
    else if (key == "observation") p.observation = whole(name, key, value);
    else if (key == "kernel") p.kernel = whole(name, key, value);
    else if (key == "seed") {
        const std::int64_t s = whole(name, key, value);
        if (s < 0) throw Error("policy '" + name + "': seed must be 0 or more");
        p.basis_seed = static_cast<std::uint64_t>(s);
    } else if (key == "target") {
        if (value == "k") p.target = LowRankTarget::k;
        else if (value == "v") p.target = LowRankTarget::v;
        else if (value == "kv") p.target = LowRankTarget::kv;
        else throw Error("policy '" + name + "': target must be k, v or kv (got '" + value + "')");
    } else if (key == "basis") {
        if (value == "pca") p.basis = LowRankBasis::pca;
        else if (value == "random") p.basis = LowRankBasis::random;
        else throw Error("policy '" + name + "': basis must be pca or random (got '" + value + "')");
    }
}

}  // namespace

CachePolicy parse_policy(const std::string& text) {
    const auto colon = text.find(':');
    const std::string name = text.substr(0, colon);
    CachePolicy p;
    bool known = false;
    for (const PolicyName& n : kPolicies)
        if (name == n.key) {
            p = defaults_for(n.kind);
            known = true;
        }
    if (!known)
        throw Error("unknown cache policy '" + name + "' (" + policy_keys_text() + ")");
    if (colon != std::string::npos) {
        for (const std::string& pair : split(text.substr(colon + 1), ',')) {
            if (pair.empty()) continue;
            const auto eq = pair.find('=');
            if (eq == std::string::npos)
                throw Error("policy '" + name + "': '" + pair +
                            "' is not key=value (e.g. " + name + ":" +
                            default_parameters_text(p.kind) + ")");
            const std::string key = pair.substr(0, eq), value = pair.substr(eq + 1);
            if (!takes(p.kind, key))
                throw Error("policy '" + name + "' has no parameter '" + key + "' (it takes: " +
                            (*name_of(p.kind).parameters ? name_of(p.kind).parameters : "none") +
                            ")");
            set_parameter(p, name, key, value);
        }
    }
    check(p);
    return p;
}

std::string default_parameters_text(PolicyKind k) {
    CachePolicy p = defaults_for(k);
    if (k == PolicyKind::lowrank) p.rank = 8;  // required: the help shows an example
    const std::string t = p.text();
    const auto colon = t.find(':');
    return colon == std::string::npos ? "" : t.substr(colon + 1);
}

std::string policy_help() {
    std::string s;
    for (const PolicyName& n : kPolicies) {
        const std::string params = default_parameters_text(n.kind);
        s += (s.empty() ? "" : "; ") + std::string(n.key) +
             (params.empty() ? "" : " (" + params + ")");
    }
    return s + "; lowrank's rank is required, its basis pca or random, target k, v or kv";
}

}  // namespace cp::model
