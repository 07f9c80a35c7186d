"""Fallback namespace backend when bubblewrap is missing: util-linux ``unshare`` plus a small
shell script that builds the same allow-list root bwrap would (read-only /usr, private tmpfs /tmp,
fresh /proc, a few device nodes) and pivot_roots into it.

The sandbox's root is mapped to the host's ``nobody`` (when the host runs as root), every
capability is dropped before the worker starts, and no_new_privs is set.
"""
from __future__ import annotations

import shutil

from sandbox.backends.base import WORKER_SOURCE, NamespacedWorker

# Runs inside the new user+mount+pid+net+ipc+uts namespaces, as the namespace's root.
SETUP = r"""
set -eu
mount -t tmpfs -o size=1m,mode=0755 none /tmp  # scratch, private to this mount namespace
R=/tmp/root
mkdir "$R"
mount -t tmpfs -o size=1m,mode=0755 none "$R"
mkdir -p "$R/usr" "$R/proc" "$R/tmp" "$R/dev" "$R/etc" "$R/dev/shm" "$R/.old"
mount --rbind /usr "$R/usr"
mount -o remount,bind,ro,nosuid,nodev "$R/usr"
for d in bin sbin lib lib32 lib64 libx32; do
  if [ -L "/$d" ]; then ln -s "$(readlink "/$d")" "$R/$d";
  elif [ -d "/$d" ]; then mkdir "$R/$d"; mount --rbind "/$d" "$R/$d"; mount -o remount,bind,ro "$R/$d"; fi
done
for f in ld.so.cache localtime; do
  if [ -e "/etc/$f" ]; then touch "$R/etc/$f"; mount --bind "/etc/$f" "$R/etc/$f"; fi
done
for n in null zero full random urandom; do
  touch "$R/dev/$n"; mount --bind "/dev/$n" "$R/dev/$n"
done
mount -t tmpfs -o "size=${SBX_TMP_BYTES},mode=1777,nosuid,nodev" none "$R/tmp"
mount -t tmpfs -o size=16m,mode=1777,nosuid,nodev none "$R/dev/shm"
mount -t proc -o nosuid,nodev,noexec proc "$R/proc"
echo 0 > "$R/proc/sys/user/max_user_namespaces"  # no nested user namespaces (as bwrap --disable-userns)
cd "$R"
pivot_root . .old
umount -l /.old
rmdir /.old
mount -o remount,bind,ro /
cd /tmp
exec env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/tmp LANG=C.UTF-8 PYTHONDONTWRITEBYTECODE=1 \
  setpriv --bounding-set=-all --inh-caps=-all --no-new-privs "$@"
"""


class UnshareWorker(NamespacedWorker):
    backend = "unshare"

    def _argv(self, python: str) -> tuple[list[str], dict]:
        for tool in ("unshare", "setpriv", "mount", "pivot_root"):
            if not shutil.which(tool):
                raise RuntimeError(f"{tool} not found (util-linux/mount are needed for the unshare backend)")
        argv = ["/bin/sh", "-c", 'read -r _ && exec "$@"', "sh",
                "unshare", "--user", "--map-root-user", "--mount", "--pid", "--fork", "--net", "--ipc",
                "--uts", "--propagation", "private", "/bin/sh", "-c", SETUP, "setup",
                python, "-I", "-B", "-c", WORKER_SOURCE]
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
               "SBX_TMP_BYTES": str(int(self.options.get("tmp_mb", 64)) << 20)}
        return argv, env
