#!/usr/bin/env python3
"""A TUF repository for vouch's tests, written by python-tuf (an independent implementation).

    repo.py DIR init TARGET=FILE...          root v1, targets/snapshot/timestamp v1 (consistent snapshots)
    repo.py DIR publish TARGET=FILE...       new targets (the given files replace or add), snapshot, timestamp
    repo.py DIR rotate-root KEYNAME [--only-new]
                                             root vN+1 with a new root key (signed by the old and new key;
                                             --only-new: by the new key alone, which clients must refuse)
    repo.py DIR timestamp [--expires-in S] [--key NAME]
                                             a new timestamp (S seconds of validity, negative = already
                                             expired; --key signs with a key the root does not list)
    repo.py DIR rollback timestamp|snapshot|targets
                                             serve an older version: the previous timestamp; or a new
                                             timestamp pinning the previous snapshot; or a new snapshot +
                                             timestamp pinning the previous targets
    repo.py DIR tamper TARGET                change the served target's bytes, not its metadata

DIR/repo is what the HTTP server serves (metadata at its top, targets/ below); DIR/state.json
keeps what the next command needs. Keys are derived from their names: this is test data.
"""

import copy
import hashlib
import json
import os
import shutil
import sys
from datetime import datetime, timedelta, timezone

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from securesystemslib.signer import CryptoSigner, SSlibKey
from tuf.api.metadata import (
    Metadata,
    MetaFile,
    Root,
    Snapshot,
    TargetFile,
    Targets,
    Timestamp,
)
from tuf.api.serialization.json import JSONSerializer


def signer(name):
    private = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(("vouch-test-tuf:" + name).encode()).digest())
    public = SSlibKey.from_crypto(private.public_key())
    return CryptoSigner(private, public)


def expiry(seconds):
    return (datetime.now(timezone.utc) + timedelta(seconds=seconds)).replace(microsecond=0)


class Repo:
    def __init__(self, base):
        self.base = base
        self.repo = os.path.join(base, "repo")
        self.state_path = os.path.join(base, "state.json")
        if os.path.exists(self.state_path):
            with open(self.state_path) as f:
                self.state = json.load(f)
        else:
            self.state = {"root_key": "root-1", "versions": {}, "history": {}}

    def save(self):
        with open(self.state_path, "w") as f:
            json.dump(self.state, f, indent=1)

    def path(self, name):
        return os.path.join(self.repo, name)

    def write(self, md, name, key_names):
        md.signatures.clear()
        for k in key_names:
            md.sign(signer(k), append=True)
        data = md.to_bytes(JSONSerializer(compact=False))
        with open(self.path(name), "wb") as f:
            f.write(data)
        return data

    def load(self, name):
        return Metadata.from_file(self.path(name))

    def remember(self, role, name):
        self.state["history"].setdefault(role, []).append(name)

    # -- roles ------------------------------------------------------------------------
    def write_root(self, root_md, signers):
        v = root_md.signed.version
        self.write(root_md, f"{v}.root.json", signers)
        self.state["versions"]["root"] = v

    def write_targets(self, targets_md):
        v = targets_md.signed.version
        self.write(targets_md, f"{v}.targets.json", ["targets"])
        self.state["versions"]["targets"] = v
        self.remember("targets", f"{v}.targets.json")

    def write_snapshot(self, snap_md):
        v = snap_md.signed.version
        self.write(snap_md, f"{v}.snapshot.json", ["snapshot"])
        self.state["versions"]["snapshot"] = v
        self.remember("snapshot", f"{v}.snapshot.json")

    def write_timestamp(self, ts_md, key="timestamp"):
        data = self.write(ts_md, "timestamp.json", [key])
        v = ts_md.signed.version
        keep = f"history-timestamp-{v}.json"
        with open(os.path.join(self.base, keep), "wb") as f:
            f.write(data)
        self.state["versions"]["timestamp"] = v
        self.remember("timestamp", keep)

    def add_targets(self, targets_md, specs):
        os.makedirs(self.path("targets"), exist_ok=True)
        for spec in specs:
            name, _, src = spec.partition("=")
            with open(src, "rb") as f:
                data = f.read()
            tf = TargetFile.from_data(name, data, ["sha256"])
            targets_md.signed.targets[name] = tf
            with open(self.path(f"targets/{tf.hashes['sha256']}.{name}"), "wb") as f:
                f.write(data)

    def snapshot_for(self, targets_version, version):
        snap = Metadata(Snapshot(version=version, expires=expiry(86400 * 7), meta={"targets.json": MetaFile(version=targets_version)}))
        return snap

    def timestamp_for(self, snapshot_version, version, seconds=86400):
        return Metadata(Timestamp(version=version, expires=expiry(seconds), snapshot_meta=MetaFile(version=snapshot_version)))

    # -- commands ---------------------------------------------------------------------
    def init(self, specs):
        if os.path.exists(self.repo):
            shutil.rmtree(self.repo)
        os.makedirs(self.repo)
        root = Root(expires=expiry(86400 * 365), consistent_snapshot=True)
        for role, key in [("root", "root-1"), ("targets", "targets"), ("snapshot", "snapshot"), ("timestamp", "timestamp")]:
            root.add_key(signer(key).public_key, role)
        self.write_root(Metadata(root), ["root-1"])
        targets = Metadata(Targets(version=1, expires=expiry(86400 * 30)))
        self.add_targets(targets, specs)
        self.write_targets(targets)
        self.write_snapshot(self.snapshot_for(1, 1))
        self.write_timestamp(self.timestamp_for(1, 1))
        self.save()

    def publish(self, specs):
        v = self.state["versions"]
        targets = self.load(f"{v['targets']}.targets.json")
        targets.signed.version += 1
        targets.signed.expires = expiry(86400 * 30)
        self.add_targets(targets, specs)
        self.write_targets(targets)
        self.write_snapshot(self.snapshot_for(targets.signed.version, v["snapshot"] + 1))
        self.write_timestamp(self.timestamp_for(v["snapshot"], v["timestamp"] + 1))
        self.save()

    def rotate_root(self, new_key, only_new):
        v = self.state["versions"]["root"]
        old_key = self.state["root_key"]
        root = self.load(f"{v}.root.json")
        root.signed.version += 1
        root.signed.revoke_key(signer(old_key).public_key.keyid, "root")
        root.signed.add_key(signer(new_key).public_key, "root")
        self.write_root(root, [new_key] if only_new else [old_key, new_key])
        if not only_new:
            self.state["root_key"] = new_key
        self.save()

    def timestamp(self, seconds, key):
        v = self.state["versions"]
        self.write_timestamp(self.timestamp_for(v["snapshot"], v["timestamp"] + 1, seconds), key)
        self.save()

    def rollback(self, role):
        v = self.state["versions"]
        if role == "timestamp":
            previous = self.state["history"]["timestamp"][-2]
            shutil.copyfile(os.path.join(self.base, previous), self.path("timestamp.json"))
        elif role == "snapshot":
            older = v["snapshot"] - 1
            self.write_timestamp(self.timestamp_for(older, v["timestamp"] + 1))
        elif role == "targets":
            older = v["targets"] - 1
            self.write_snapshot(self.snapshot_for(older, v["snapshot"] + 1))
            self.write_timestamp(self.timestamp_for(v["snapshot"], v["timestamp"] + 1))
        else:
            raise SystemExit(f"cannot roll back {role}")
        self.save()

    def tamper(self, name):
        v = self.state["versions"]
        targets = self.load(f"{v['targets']}.targets.json")
        tf = targets.signed.targets[name]
        path = self.path(f"targets/{tf.hashes['sha256']}.{name}")
        with open(path, "rb") as f:
            data = bytearray(f.read())
        # Same length, one byte changed: only the hash can catch it.
        data[len(data) // 2] ^= 0x01
        with open(path, "wb") as f:
            f.write(bytes(data))


def main(argv):
    if len(argv) < 3:
        raise SystemExit(__doc__)
    repo, command, args = Repo(argv[1]), argv[2], argv[3:]
    if command == "init":
        repo.init(args)
    elif command == "publish":
        repo.publish(args)
    elif command == "rotate-root":
        repo.rotate_root(args[0], "--only-new" in args[1:])
    elif command == "timestamp":
        seconds, key = 86400, "timestamp"
        rest = list(args)
        while rest:
            flag = rest.pop(0)
            if flag == "--expires-in":
                seconds = int(rest.pop(0))
            elif flag == "--key":
                key = rest.pop(0)
        repo.timestamp(seconds, key)
    elif command == "rollback":
        repo.rollback(args[0])
    elif command == "tamper":
        repo.tamper(args[0])
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
