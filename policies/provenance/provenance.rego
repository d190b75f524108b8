# SLSA provenance: who built the artifact, from which source and ref, on which runners
# (like slsa-verifier's --builder-id, --source-uri, --source-branch/--source-tag, with
# globs, both CI platforms and the signer's certificate checked against the provenance).
#
#   config:
#     provenance:
#       builders: ["https://gitlab.com/acme/app/-/runners/*"]   # globs; required
#       sources: [gitlab.com/acme/app]                          # HOST/PATH globs; required
#       refs: {branches: [main], tags: ["v*"]}                  # required (or any_ref: true)
#       predicate_types: [https://slsa.dev/provenance/v1]       # default: v1 and v0.2
#       allow_self_hosted: false                                # default: false (hosted, as the certificate says)
#       match_signer: true                                      # default: true
#
# It reads the typed fields vouch derives from each verified SLSA statement
# (`input.attestations[_].provenance`, docs/claims.md#provenance). Only provenance whose
# own signer is accepted counts (`signer_accepted`: the signer met the identity
# requirements and every configured signer policy); some must be there, and every one
# that counts must meet every requirement.
package vouch.provenance

import data.vouch.lib

cfg := data.config.provenance

slsa_types := {"https://slsa.dev/provenance/v1", "https://slsa.dev/provenance/v0.2"}

types := {t | some t in cfg.predicate_types} if cfg.predicate_types

types := slsa_types if not cfg.predicate_types

# The provenance that counts: SLSA of an accepted type, from an accepted signer. Every
# rule goes through it, so the package is inactive without its configuration.
counted contains a if {
	cfg
	some a in input.attestations
	a.signer_accepted == true
	a.predicate_type in types
	is_object(a.provenance)
}

warn contains {"msg": msg, "code": "provenance.signer_not_accepted", "title": "Provenance from a signer that is not accepted"} if {
	cfg
	some a in input.attestations
	a.predicate_type in slsa_types
	not a.signer_accepted == true
	msg := sprintf("ignored %s provenance: its signer %s is not accepted", [a.predicate_type, lib.signer(a)])
}

fix := "build in an allowed project's CI from an allowed ref, or update config.provenance"

deny contains {"msg": msg, "code": "provenance.missing", "title": "No provenance from an accepted signer", "solution": "attest the build's provenance in CI (GitLab: RUNNER_GENERATE_ARTIFACTS_METADATA or the Attestations API; GitHub: actions/attest-build-provenance), and fetch it (--attestations)"} if {
	cfg
	count(counted) == 0
	msg := sprintf("no SLSA provenance (%s) from an accepted signer", [concat(", ", sort(types))])
}

# A field the provenance does not have matches no pattern (never a placeholder a glob
# could match).
builder_ok(p) if lib.any_glob_match(cfg.builders, p.builder_id)

deny contains {"msg": msg, "code": "provenance.builder", "title": "Built by a builder that is not allowed", "solution": fix} if {
	some a in counted
	not builder_ok(a.provenance)
	msg := sprintf("the %s provenance names builder %s; allowed: %s", [a.predicate_type, object.get(a.provenance, "builder_id", "(none)"), concat(", ", cfg.builders)])
}

# HOST/PATH of the provenance's source.
source_of(p) := sprintf("%s/%s", [p.source.host, p.source.repository])

source_ok(p) if lib.any_glob_match(cfg.sources, source_of(p))

deny contains {"msg": msg, "code": "provenance.source", "title": "Built from a source that is not allowed", "solution": fix} if {
	some a in counted
	not source_ok(a.provenance)
	msg := sprintf("the %s provenance names source %s; allowed: %s", [a.predicate_type, object.get(object.get(a.provenance, "source", {}), "uri", "(none)"), concat(", ", cfg.sources)])
}

ref_ok(p) if cfg.any_ref == true

ref_ok(p) if lib.ref_allowed(cfg.refs, p.source.ref_type, p.source.ref_name)

deny contains {"msg": msg, "code": "provenance.ref", "title": "Built from a ref that may not ship", "solution": fix} if {
	some a in counted
	not ref_ok(a.provenance)
	msg := sprintf("the %s provenance names ref %s, which may not ship (%s)", [a.predicate_type, object.get(object.get(a.provenance, "source", {}), "ref", "none"), lib.refs_rule(object.get(cfg, "refs", {}))])
}

# Platform-hosted only when the signer's certificate says so (Fulcio's
# runner_environment, from the job's ID token): GitLab's provenance does not say, and a
# statement's own word is the signer's. A provenance that says self-hosted is believed.
hosted := {"gitlab-hosted", "github-hosted"}

self_hosted(a) := "the provenance says self-hosted" if {
	a.provenance.runner.environment == "self-hosted"
} else := sprintf("its signer's certificate says %s", [a.claims.runner_environment]) if {
	not a.claims.runner_environment in hosted
	a.claims.runner_environment
} else := "its signer's certificate does not say where it ran" if {
	not a.claims.runner_environment
}

deny contains {"msg": msg, "code": "provenance.self_hosted", "title": "Not built on a platform-hosted runner", "solution": "build on platform-hosted runners, or set config.provenance.allow_self_hosted: true"} if {
	some a in counted
	not cfg.allow_self_hosted == true
	msg := sprintf("the %s provenance cannot show a platform-hosted runner: %s (runner %s)", [a.predicate_type, self_hosted(a), object.get(a.provenance.runner, "name", "unnamed")])
}

# What the provenance names and its certificate was issued for must agree: the
# repository, commit and ref are the statement's word, the certificate's are Fulcio's
# (from the job's ID token). Without this a branch's pipeline could claim a tag.
mismatch(a) := "no source repository, commit and ref to compare with its certificate's" if {
	not comparable(a)
} else := sprintf("source %s, its certificate %s", [a.provenance.source.uri, a.claims.source_repository_uri]) if {
	lower(a.provenance.source.uri) != lower(a.claims.source_repository_uri)
} else := sprintf("commit %s, its certificate %s", [a.provenance.source.commit, a.claims.source_repository_digest]) if {
	a.provenance.source.commit != a.claims.source_repository_digest
} else := sprintf("ref %s, its certificate %s", [a.provenance.source.ref, a.claims.source_repository_ref]) if {
	a.provenance.source.ref != a.claims.source_repository_ref
}

comparable(a) if {
	a.provenance.source.uri
	a.provenance.source.commit
	a.provenance.source.ref
	a.claims.source_repository_uri
	a.claims.source_repository_digest
	a.claims.source_repository_ref
}

deny contains {"msg": msg, "code": "provenance.signer_mismatch", "title": "Provenance does not match its signer", "solution": "attest in the job that built the artifact; a provenance naming another source or commit than its signer's certificate cannot be trusted"} if {
	some a in counted
	not cfg.match_signer == false
	msg := sprintf("the %s provenance names %s", [a.predicate_type, mismatch(a)])
}
