# Attestations: required predicate types, SLSA provenance that matches the signing
# certificate, and GitLab provenance parameters.
#
#   config:
#     attestations:
#       required_predicate_types: [https://slsa.dev/provenance/v1]
#       slsa_source_matches_certificate: true   # provenance names the certificate's commit
#       gitlab_protected_ref: true              # GitLab provenance: CI_COMMIT_REF_PROTECTED
#
# Only attestations whose own signer is accepted count (`signer_accepted`: the signer
# met the identity requirements and every configured signer policy, e.g. config.gitlab).
# An attestation from anyone else — another project under the same trust root — is
# ignored, with a warning. A check that is switched on fails when no provenance from an
# accepted signer is there to pass it.
package vouch.attestations

import data.vouch.lib

cfg := data.config.attestations

# The attestations that count.
counted contains a if {
	some a in input.attestations
	a.signer_accepted == true
}

warn contains {"msg": msg, "code": "attestations.signer_not_accepted", "title": "Attestation from a signer that is not accepted"} if {
	cfg
	some a in input.attestations
	not a.signer_accepted == true
	msg := sprintf("ignored a %s attestation: its signer %s is not accepted", [object.get(a, "predicate_type", "unknown"), lib.signer(a)])
}

slsa_types := {"https://slsa.dev/provenance/v1", "https://slsa.dev/provenance/v0.2"}

deny contains {"msg": msg, "code": "attestations.missing", "title": "Required attestation missing"} if {
	some t in cfg.required_predicate_types
	not t in {a.predicate_type | some a in counted}
	msg := sprintf("no verified attestation of type %s (found: %s)", [t, found_types])
}

found_types := "none" if count(counted) == 0

found_types := concat(", ", sort({a.predicate_type | some a in counted})) if count(counted) > 0

# The commits a SLSA provenance says it built from.
provenance_commits(a) := {d | some m in a.statement.predicate.materials; some alg in ["sha1", "gitCommit", "sha256"]; d := m.digest[alg]} | {d | some alg in ["sha1", "gitCommit", "sha256"]; d := a.statement.predicate.invocation.configSource.digest[alg]} if {
	a.predicate_type == "https://slsa.dev/provenance/v0.2"
}

provenance_commits(a) := {d | some r in a.statement.predicate.buildDefinition.resolvedDependencies; some alg in ["gitCommit", "sha1", "sha256"]; d := r.digest[alg]} if {
	a.predicate_type == "https://slsa.dev/provenance/v1"
}

# The SLSA provenance that counts. A check that is switched on needs some: with none
# from an accepted signer there is nothing that could pass it.
provenance contains a if {
	some a in counted
	a.predicate_type in slsa_types
}

deny contains {"msg": msg, "code": "attestations.slsa_source", "title": "Provenance does not match the signer"} if {
	cfg.slsa_source_matches_certificate
	count(provenance) == 0
	msg := "slsa_source_matches_certificate is on, but there is no SLSA provenance from an accepted signer to match"
}

deny contains {"msg": msg, "code": "attestations.slsa_source", "title": "Provenance does not match the signer"} if {
	cfg.slsa_source_matches_certificate
	some a in provenance
	commit := a.claims.source_repository_digest
	not commit in provenance_commits(a)
	msg := sprintf("the %s provenance does not name commit %s that the signing certificate was issued for (it names %s)", [a.predicate_type, commit, names(provenance_commits(a))])
}

deny contains {"msg": msg, "code": "attestations.slsa_source", "title": "Provenance does not match the signer"} if {
	cfg.slsa_source_matches_certificate
	some a in provenance
	not a.claims.source_repository_digest
	msg := sprintf("the %s provenance cannot be matched: its certificate has no source commit", [a.predicate_type])
}

names(set) := "nothing" if count(set) == 0

names(set) := concat(", ", sort(set)) if count(set) > 0

# The CI variables a GitLab provenance records: SLSA v0.2 `invocation.parameters`, v1
# `buildDefinition.externalParameters.variables`. Absent: none (so not protected).
gitlab_variables(a) := v if {
	v := object.get(a, variables_path[a.predicate_type], {})
	is_object(v)
} else := {}

variables_path := {
	"https://slsa.dev/provenance/v0.2": ["statement", "predicate", "invocation", "parameters"],
	"https://slsa.dev/provenance/v1": ["statement", "predicate", "buildDefinition", "externalParameters", "variables"],
}

protected(a) if gitlab_variables(a).CI_COMMIT_REF_PROTECTED in {"true", true}

deny contains {"msg": msg, "code": "attestations.gitlab_protected_ref", "title": "Provenance not from a protected ref"} if {
	cfg.gitlab_protected_ref
	count(provenance) == 0
	msg := "gitlab_protected_ref is on, but there is no SLSA provenance from an accepted signer that could say the ref was protected"
}

deny contains {"msg": msg, "code": "attestations.gitlab_protected_ref", "title": "Provenance not from a protected ref"} if {
	cfg.gitlab_protected_ref
	some a in provenance
	not protected(a)
	msg := sprintf("the %s provenance does not say it was built from a protected ref (CI_COMMIT_REF_PROTECTED is %s, ref %s)", [a.predicate_type, json.marshal(object.get(gitlab_variables(a), "CI_COMMIT_REF_PROTECTED", "absent")), object.get(gitlab_variables(a), "CI_COMMIT_REF_NAME", "unknown")])
}
