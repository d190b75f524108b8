package vouch.ecosystems_test

import data.vouch.ecosystems
import data.vouch.fixtures as f

registry_sig := {"kind": "registry", "claims": null, "key_fingerprint_sha256": "abc", "registry_keyid": "SHA256:k"}

prov(claims) := {"kind": "dsse", "claims": claims, "predicate_type": "https://slsa.dev/provenance/v1", "statement": {}}

gitlab_prov := prov(f.gitlab_claims)

github_prov := prov(f.github_claims)

package_of(name, extra) := object.union({"ecosystem": "npm", "name": name, "version": "1.0.0", "purl": "pkg:npm/x@1.0.0", "registry": "https://registry.npmjs.org", "registry_signature": "verified", "locked": true}, extra)

# The input vouch builds for a package: which signatures the judge accepts decides which
# attestations count, as in vouch (asked first, then evaluated).
input_for(name, sigs, extra) := input_with(cfg, name, sigs, extra)

input_with(conf, name, sigs, extra) := inp if {
	base := object.union(f.input_of(sigs), {"subject": {"kind": "package", "name": name, "digest": {"sha512": "00"}, "package": package_of(name, extra)}})
	accepted := ecosystems.accepted with input as base with data.config.ecosystems as conf
	inp := object.union(f.input_accepting(sigs, accepted), {"subject": base.subject})
}

cfg := {
	"provenance": {"required": ["@acme/*"], "exceptions": [{"package": "@acme/legacy", "reason": "ACME-42"}]},
	"publishers": [
		{"packages": ["@acme/*"], "gitlab": {"projects": ["acme/*"], "refs": {"branches": ["main"]}}},
		{"packages": ["@org/*"], "github": {"repositories": ["org/app"], "workflows": [".github/workflows/*.yml"], "refs": {"tags": ["v*"]}}},
		{"packages": ["@any/*"], "gitlab": {"projects": ["acme/app"], "any_ref": true}},
	],
}

codes(name, sigs, extra) := c if {
	inp := input_for(name, sigs, extra)
	c := f.codes(ecosystems.deny) with input as inp with data.config.ecosystems as cfg
}

warnings(name, sigs, extra) := c if {
	inp := input_for(name, sigs, extra)
	c := f.codes(ecosystems.warn) with input as inp with data.config.ecosystems as cfg
}

test_publisher_provenance_passes if {
	codes("@acme/app", [registry_sig, gitlab_prov], {}) == set()
}

test_github_publisher_passes if {
	codes("@org/app", [registry_sig, github_prov], {}) == set()
}

test_any_ref_publisher_passes if {
	codes("@any/app", [registry_sig, prov(object.union(f.gitlab_claims, {"gitlab": object.union(f.gitlab_claims.gitlab, {"ref_type": "branch", "ref_name": "feature"})}))], {}) == set()
}

test_registry_signature_suffices_outside_required if {
	codes("left-pad", [registry_sig], {}) == set()
}

test_required_without_provenance_is_denied if {
	codes("@acme/app", [registry_sig], {}) == {"ecosystems.provenance_missing"}
}

test_wrong_publisher_is_denied if {
	evil := prov(object.union(f.gitlab_claims, {"gitlab": object.union(f.gitlab_claims.gitlab, {"project_path": "evil/app", "ci_config_project_path": "evil/app"})}))
	codes("@acme/app", [registry_sig, evil], {}) == {"ecosystems.publisher", "ecosystems.provenance_missing"}
}

test_wrong_ref_is_denied if {
	feature := prov(object.union(f.gitlab_claims, {"gitlab": object.union(f.gitlab_claims.gitlab, {"ref_name": "feature"})}))
	"ecosystems.publisher" in codes("@acme/app", [registry_sig, feature], {})
}

test_fork_pipeline_is_not_a_publisher if {
	fork := prov(object.union(f.gitlab_claims, {"gitlab": object.union(f.gitlab_claims.gitlab, {"ci_config_project_path": "acme/other"})}))
	"ecosystems.publisher" in codes("@acme/app", [registry_sig, fork], {})
}

test_github_workflow_and_ref_checked if {
	"ecosystems.publisher" in codes("@org/app", [registry_sig, prov(object.union(f.github_claims, {"github": object.union(f.github_claims.github, {"workflow_path": "tools/x.yml"})}))], {})
	"ecosystems.publisher" in codes("@org/app", [registry_sig, prov(object.union(f.github_claims, {"github": object.union(f.github_claims.github, {"ref_type": "branch", "ref_name": "main"})}))], {})
}

test_exception_allows_with_a_warning if {
	codes("@acme/legacy", [registry_sig], {}) == set()
	warnings("@acme/legacy", [registry_sig], {}) == {"ecosystems.exception"}
}

test_dropped_provenance_is_denied if {
	codes("left-pad", [registry_sig], {"provenance_before": "0.9.0"}) == {"ecosystems.provenance_dropped"}
}

test_dropped_provenance_allowed_when_said if {
	c := f.codes(ecosystems.deny) with input as input_for("left-pad", [registry_sig], {"provenance_before": "0.9.0"})
		with data.config.ecosystems as object.union(cfg, {"provenance": object.union(cfg.provenance, {"allow_dropped": true})})
	c == set()
}

test_required_without_publisher_is_a_config_error if {
	c := f.codes(ecosystems.deny) with input as input_for("@acme/app", [registry_sig, gitlab_prov], {})
		with data.config.ecosystems as {"provenance": {"required": ["@acme/*"]}}
	"ecosystems.config" in c
}

test_unlisted_package_counts_only_the_registry_signature if {
	a := ecosystems.accepted with input as input_for("other", [registry_sig, github_prov], {}) with data.config.ecosystems as cfg
	a == {0}
}

test_unlisted_pypi_provenance_is_denied_with_what_to_list if {
	inp := input_for("acme", [github_prov], {"ecosystem": "pypi", "registry_signature": "none"})
	c := f.codes(ecosystems.deny) with input as inp with data.config.ecosystems as cfg
	c == {"ecosystems.unlisted_publisher"}
}

test_patterns_cross_scopes_normalize_pypi_and_name_ecosystems if {
	conf := {"provenance": {"required": ["*"]}, "publishers": [{"packages": ["pypi:Zope.*", "npm:*"], "gitlab": {"projects": ["acme/*"], "any_ref": true}}]}
	c1 := f.codes(ecosystems.deny) with input as input_with(conf, "@acme/app", [registry_sig], {}) with data.config.ecosystems as conf
	c1 == {"ecosystems.provenance_missing"}
	c2 := f.codes(ecosystems.deny) with input as input_with(conf, "zope-interface", [gitlab_prov], {"ecosystem": "pypi", "registry_signature": "none"})
		with data.config.ecosystems as conf
	c2 == set()
}

test_globs_cross_dots_and_slashes if {
	conf := {"provenance": {"required": ["*"]}, "publishers": [{"packages": ["*"], "gitlab": {"projects": ["acme/*"], "any_ref": true}}]}
	every name in ["lodash.merge", "@acme/config.utils", "left-pad"] {
		c := f.codes(ecosystems.deny) with input as input_with(conf, name, [registry_sig], {}) with data.config.ecosystems as conf
		c == {"ecosystems.provenance_missing"}
	}
}

test_an_exception_for_a_dropped_provenance_warns_and_versions_count if {
	conf := {"provenance": {"required": [], "exceptions": [{"package": "left-pad", "version": "1.0.0", "reason": "R1"}, {"package": "left-pad", "version": "9.9.9", "reason": "R9"}]}}
	inp := input_with(conf, "left-pad", [registry_sig], {"provenance_before": "0.9.0"})
	d := f.codes(ecosystems.deny) with input as inp with data.config.ecosystems as conf
	d == set()
	w := ecosystems.warn with input as inp with data.config.ecosystems as conf
	[x.msg | some x in w] == ["left-pad@1.0.0 has no provenance; allowed: R1"]
}

test_an_alias_does_not_borrow_an_exception if {
	conf := {"provenance": {"required": ["@acme/*"], "exceptions": [{"package": "@acme/legacy", "reason": "R"}]}, "publishers": cfg.publishers}
	c := f.codes(ecosystems.deny) with input as input_with(conf, "@acme/widgets", [registry_sig], {"installed_as": "@acme/legacy"})
		with data.config.ecosystems as conf
	c == {"ecosystems.provenance_missing"}
}

test_an_alias_is_matched_by_the_name_it_is_installed_as if {
	codes("evil-pkg", [registry_sig], {"installed_as": "@acme/core"}) == {"ecosystems.provenance_missing"}
}

test_not_a_package_is_denied if {
	c := f.codes(ecosystems.deny) with input as f.input_of([f.gitlab_sig]) with data.config.ecosystems as cfg
	c == {"ecosystems.not_a_package"}
	a := ecosystems.accepted with input as f.input_of([f.gitlab_sig]) with data.config.ecosystems as cfg
	a == set()
}

test_inactive_without_config if {
	c := ecosystems.deny with input as input_for("@acme/app", [registry_sig], {})
	c == set()
}
