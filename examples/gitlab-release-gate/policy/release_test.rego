package vouch.release_test

import data.vouch.release

tag(name) := {"signatures": [{"claims": {"gitlab": {"ref_type": "tag", "ref_name": name}}}]}

cfg := {"tag_pattern": "^v[0-9]+\\.[0-9]+\\.[0-9]+$"}

test_release_tag_ships if {
	count(release.deny) == 0 with input as tag("v1.2.3") with data.config.release as cfg
}

test_prerelease_does_not_ship if {
	some d in release.deny with input as tag("v1.2.3-rc1") with data.config.release as cfg
	d.code == "release.tag"
}
