package vouch.attestations_test

import data.vouch.attestations
import data.vouch.fixtures as f

commit := f.gitlab_claims.source_repository_digest

slsa_v1(deps) := {
	"kind": "dsse",
	"claims": f.gitlab_claims,
	"predicate_type": "https://slsa.dev/provenance/v1",
	"statement": {"predicate": {"buildDefinition": {"resolvedDependencies": deps}}},
}

slsa_v02(materials, protected) := {
	"kind": "dsse",
	"claims": f.gitlab_claims,
	"predicate_type": "https://slsa.dev/provenance/v0.2",
	"statement": {"predicate": {
		"materials": materials,
		"invocation": {"parameters": {"CI_COMMIT_REF_PROTECTED": protected, "CI_COMMIT_REF_NAME": "main"}},
	}},
}

codes(sigs, config) := c if {
	denials := attestations.deny with input as f.input_of(sigs) with data.config.attestations as config
	c := f.codes(denials)
}

test_required_type_present if {
	codes([slsa_v1([{"digest": {"gitCommit": commit}}])], {"required_predicate_types": ["https://slsa.dev/provenance/v1"]}) == set()
}

test_required_type_missing if {
	denials := attestations.deny with input as f.input_of([f.gitlab_sig]) with data.config.attestations as {"required_predicate_types": ["https://slsa.dev/provenance/v1"]}
	f.codes(denials) == {"attestations.missing"}
	some d in denials
	d.msg == "no verified attestation of type https://slsa.dev/provenance/v1 (found: none)"
}

test_required_type_missing_names_what_was_found if {
	denials := attestations.deny with input as f.input_of([slsa_v02([], "true")]) with data.config.attestations as {"required_predicate_types": ["https://slsa.dev/provenance/v1"]}
	some d in denials
	contains(d.msg, "found: https://slsa.dev/provenance/v0.2")
}

test_slsa_v1_source_matches if {
	codes([slsa_v1([{"uri": "git+https://gitlab.com/acme/app", "digest": {"gitCommit": commit}}])], {"slsa_source_matches_certificate": true}) == set()
}

test_slsa_v1_source_mismatch if {
	codes([slsa_v1([{"digest": {"gitCommit": "deadbeef"}}])], {"slsa_source_matches_certificate": true}) == {"attestations.slsa_source"}
}

test_slsa_v02_materials if {
	codes([slsa_v02([{"digest": {"sha1": commit}}], "true")], {"slsa_source_matches_certificate": true}) == set()
	codes([slsa_v02([], "true")], {"slsa_source_matches_certificate": true}) == {"attestations.slsa_source"}
}

test_slsa_without_certificate_commit if {
	a := object.union(object.remove(slsa_v1([]), ["claims"]), {"claims": object.remove(f.gitlab_claims, ["source_repository_digest"])})
	codes([a], {"slsa_source_matches_certificate": true}) == {"attestations.slsa_source"}
}

test_gitlab_protected_ref if {
	codes([slsa_v02([{"digest": {"sha1": commit}}], "true")], {"gitlab_protected_ref": true}) == set()
	codes([slsa_v02([{"digest": {"sha1": commit}}], "false")], {"gitlab_protected_ref": true}) == {"attestations.gitlab_protected_ref"}
}

test_slsa_v02_config_source if {
	a := object.union(slsa_v02([], "true"), {"statement": {"predicate": {"invocation": {"configSource": {"digest": {"sha1": commit}}}}}})
	codes([a], {"slsa_source_matches_certificate": true}) == set()
}

# An attestation counts only when its own signer is accepted: SLSA provenance signed by
# another project under the same trust root does not satisfy a requirement.
test_attestation_from_an_unaccepted_signer_does_not_count if {
	other := object.union(slsa_v1([{"digest": {"gitCommit": commit}}]), {"claims": object.union(f.gitlab_claims, {"gitlab": object.union(f.gitlab_claims.gitlab, {"project_path": "evil/app"})})})
	config := {"required_predicate_types": ["https://slsa.dev/provenance/v1"]}
	inp := f.input_accepting([f.gitlab_sig, other], [0])
	denials := attestations.deny with input as inp with data.config.attestations as config
	f.codes(denials) == {"attestations.missing"}
	warnings := attestations.warn with input as inp with data.config.attestations as config
	f.codes(warnings) == {"attestations.signer_not_accepted"}
	# The same attestation, its signer accepted, satisfies it.
	count(attestations.deny) == 0 with input as f.input_accepting([f.gitlab_sig, other], [0, 1]) with data.config.attestations as config
}

# Provenance from a signer that is not accepted is not matched against the certificate:
# it is not there at all, so the switched-on check fails for want of provenance.
test_unaccepted_provenance_is_not_checked_against_the_certificate if {
	bad := slsa_v1([{"digest": {"gitCommit": "deadbeef"}}])
	denials := attestations.deny with input as f.input_accepting([bad], []) with data.config.attestations as {"slsa_source_matches_certificate": true}
	[d.msg | some d in denials] == ["slsa_source_matches_certificate is on, but there is no SLSA provenance from an accepted signer to match"]
}

# A provenance check that is switched on fails when there is no provenance to pass it.
test_checks_fail_without_provenance if {
	codes([f.gitlab_sig], {"slsa_source_matches_certificate": true}) == {"attestations.slsa_source"}
	codes([f.gitlab_sig], {"gitlab_protected_ref": true}) == {"attestations.gitlab_protected_ref"}
}

# Provenance whose signer is not accepted is not there for these checks either.
test_checks_fail_with_only_unaccepted_provenance if {
	inp := f.input_accepting([f.gitlab_sig, slsa_v02([{"digest": {"sha1": commit}}], "true")], [0])
	denials := attestations.deny with input as inp with data.config.attestations as {"gitlab_protected_ref": true, "slsa_source_matches_certificate": true}
	f.codes(denials) == {"attestations.gitlab_protected_ref", "attestations.slsa_source"}
}

slsa_v1_gitlab(variables) := object.union(slsa_v1([{"digest": {"gitCommit": commit}}]), {"statement": {"predicate": {"buildDefinition": {"externalParameters": {"variables": variables}}}}})

test_gitlab_protected_ref_v1 if {
	codes([slsa_v1_gitlab({"CI_COMMIT_REF_PROTECTED": "true"})], {"gitlab_protected_ref": true}) == set()
	codes([slsa_v1_gitlab({"CI_COMMIT_REF_PROTECTED": "false"})], {"gitlab_protected_ref": true}) == {"attestations.gitlab_protected_ref"}
	codes([slsa_v1_gitlab({})], {"gitlab_protected_ref": true}) == {"attestations.gitlab_protected_ref"}
	codes([slsa_v1([{"digest": {"gitCommit": commit}}])], {"gitlab_protected_ref": true}) == {"attestations.gitlab_protected_ref"}
}

# Missing or malformed parameters never read as protected.
test_gitlab_protected_ref_without_parameters if {
	bare := {"kind": "dsse", "claims": f.gitlab_claims, "predicate_type": "https://slsa.dev/provenance/v0.2", "statement": {"predicate": {}}}
	codes([bare], {"gitlab_protected_ref": true}) == {"attestations.gitlab_protected_ref"}
	odd := object.union(bare, {"statement": {"predicate": {"invocation": {"parameters": "CI_COMMIT_REF_PROTECTED=true"}}}})
	codes([odd], {"gitlab_protected_ref": true}) == {"attestations.gitlab_protected_ref"}
	no_statement := object.remove(bare, ["statement"])
	codes([no_statement], {"gitlab_protected_ref": true}) == {"attestations.gitlab_protected_ref"}
}

# One provenance from an unprotected ref fails the subject even beside a protected one.
test_gitlab_protected_ref_every_provenance if {
	codes([slsa_v02([], "true"), slsa_v1_gitlab({"CI_COMMIT_REF_PROTECTED": "false"})], {"gitlab_protected_ref": true}) == {"attestations.gitlab_protected_ref"}
}
