package vouch.provenance_test

import data.vouch.fixtures as f
import data.vouch.provenance

commit := f.gitlab_claims.source_repository_digest

claims := object.union(f.gitlab_claims, {"source_repository_uri": "https://gitlab.com/acme/app", "source_repository_ref": "refs/heads/main"})

# GitLab SLSA v1 provenance as vouch types it (docs/claims.md#provenance).
typed := {
	"slsa_version": "v1",
	"build_platform": "gitlab",
	"builder_id": "https://gitlab.com/acme/app/-/runners/12",
	"source": {
		"uri": "https://gitlab.com/acme/app", "host": "gitlab.com", "repository": "acme/app",
		"ref": "refs/heads/main", "ref_type": "branch", "ref_name": "main", "commit": commit,
	},
	"runner": {"name": "green-2", "executor": "docker"},
}

att(p) := att_by(p, claims)

att_by(p, c) := {"kind": "dsse", "claims": c, "predicate_type": "https://slsa.dev/provenance/v1", "statement": {}, "provenance": p}

with_source(patch) := object.union(typed, {"source": object.union(typed.source, patch)})

config := {"builders": ["https://gitlab.com/acme/*/-/runners/*"], "sources": ["gitlab.com/acme/*"], "refs": {"branches": ["main"], "tags": ["v*"]}}

codes(sigs, cfg) := c if {
	denials := provenance.deny with input as f.input_of(sigs) with data.config.provenance as cfg
	c := f.codes(denials)
}

test_good_provenance_passes if {
	codes([att(typed)], config) == set()
}

test_no_provenance_is_denied if {
	codes([f.gitlab_sig], config) == {"provenance.missing"}
	denials := provenance.deny with input as f.input_of([f.gitlab_sig]) with data.config.provenance as config
	some d in denials
	d.msg == "no SLSA provenance (https://slsa.dev/provenance/v0.2, https://slsa.dev/provenance/v1) from an accepted signer"
}

test_only_accepted_signers_count if {
	sigs := [f.gitlab_sig, att(typed)]
	inp := f.input_accepting(sigs, [0])
	denials := provenance.deny with input as inp with data.config.provenance as config
	f.codes(denials) == {"provenance.missing"}
	warnings := provenance.warn with input as inp with data.config.provenance as config
	f.codes(warnings) == {"provenance.signer_not_accepted"}
}

test_predicate_types_narrow_what_counts if {
	codes([att(typed)], object.union(config, {"predicate_types": ["https://slsa.dev/provenance/v0.2"]})) == {"provenance.missing"}
	codes([att(typed)], object.union(config, {"predicate_types": ["https://slsa.dev/provenance/v1"]})) == set()
}

test_builder if {
	codes([att(object.union(typed, {"builder_id": "https://gitlab.com/evil/app/-/runners/1"}))], object.union(config, {"builders": ["https://gitlab.com/acme/app/-/runners/*"]})) == {"provenance.builder"}
	codes([att(object.remove(typed, ["builder_id"]))], config) == {"provenance.builder"}
	# No placeholder to match: a builder pattern of * does not pass a provenance without one.
	codes([att(object.remove(typed, ["builder_id"]))], object.union(config, {"builders": ["*", "n*"]})) == {"provenance.builder"}
}

test_source if {
	codes([att(with_source({"repository": "evil/app", "uri": "https://gitlab.com/evil/app"}))], config) == {"provenance.source", "provenance.signer_mismatch"}
	codes([att(with_source({"repository": "evil/app", "uri": "https://gitlab.com/evil/app"}))], object.union(config, {"match_signer": false})) == {"provenance.source"}
	codes([att(object.remove(typed, ["source"]))], object.union(object.remove(config, ["refs"]), {"any_ref": true, "match_signer": false})) == {"provenance.source"}
	codes([att(object.remove(typed, ["source"]))], object.union(object.remove(config, ["refs", "sources"]), {"sources": ["**"], "any_ref": true, "match_signer": false})) == {"provenance.source"}
}

tagged := att_by(with_source({"ref": "refs/tags/v1.2.3", "ref_type": "tag", "ref_name": "v1.2.3"}), object.union(claims, {"source_repository_ref": "refs/tags/v1.2.3"}))

feature := att_by(with_source({"ref": "refs/heads/feature", "ref_name": "feature"}), object.union(claims, {"source_repository_ref": "refs/heads/feature"}))

test_refs if {
	codes([feature], config) == {"provenance.ref"}
	codes([tagged], config) == set()
	codes([tagged], object.union(object.remove(config, ["refs"]), {"refs": {"branches": ["main"]}})) == {"provenance.ref"}
	codes([feature], object.union(object.remove(config, ["refs"]), {"any_ref": true})) == set()
	denials := provenance.deny with input as f.input_of([feature]) with data.config.provenance as config
	some d in denials
	d.msg == "the https://slsa.dev/provenance/v1 provenance names ref refs/heads/feature, which may not ship (branches: main; tags: v*)"
}

# A branch pipeline's statement that claims a tag: the certificate says the branch.
test_a_claimed_ref_must_be_the_certificates if {
	claimed := att(with_source({"ref": "refs/tags/v1.2.3", "ref_type": "tag", "ref_name": "v1.2.3"}))
	codes([claimed], config) == {"provenance.signer_mismatch"}
	denials := provenance.deny with input as f.input_of([claimed]) with data.config.provenance as config
	some d in denials
	d.msg == "the https://slsa.dev/provenance/v1 provenance names ref refs/tags/v1.2.3, its certificate refs/heads/main"
}

test_self_hosted if {
	hosted := object.union(typed, {"runner": {"environment": "self-hosted", "name": "box-1"}})
	codes([att(hosted)], config) == {"provenance.self_hosted"}
	codes([att(hosted)], object.union(config, {"allow_self_hosted": true})) == set()
	by_cert := att_by(typed, object.union(claims, {"runner_environment": "self-hosted"}))
	codes([by_cert], config) == {"provenance.self_hosted"}
	# Unsaid is not hosted.
	unsaid := att_by(typed, object.remove(claims, ["runner_environment"]))
	codes([unsaid], config) == {"provenance.self_hosted"}
	denials := provenance.deny with input as f.input_of([unsaid]) with data.config.provenance as config
	some d in denials
	contains(d.msg, "does not say where it ran")
}

test_signer_mismatch if {
	codes([att(with_source({"commit": "deadbeef"}))], config) == {"provenance.signer_mismatch"}
	codes([att(with_source({"uri": "https://GitLab.com/Acme/App"}))], config) == set()
	codes([att_by(typed, object.remove(claims, ["source_repository_digest"]))], config) == {"provenance.signer_mismatch"}
	codes([att(with_source({"commit": "deadbeef"}))], object.union(config, {"match_signer": false})) == set()
	denials := provenance.deny with input as f.input_of([att(with_source({"commit": "deadbeef"}))]) with data.config.provenance as config
	some d in denials
	d.msg == sprintf("the https://slsa.dev/provenance/v1 provenance names commit deadbeef, its certificate %s", [commit])
}

test_every_counted_provenance_must_pass if {
	codes([att(typed), att(object.union(typed, {"builder_id": "https://example.com/builder"}))], config) == {"provenance.builder"}
}

test_inactive_without_config if {
	count(provenance.deny) == 0 with input as f.input_of([f.gitlab_sig])
	count(provenance.deny) == 0 with input as f.input_of([att(object.remove(typed, ["builder_id", "source"]))])
	count(provenance.warn) == 0 with input as f.input_accepting([att(typed)], [])
}
