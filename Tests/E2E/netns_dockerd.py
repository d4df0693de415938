"""Runs dockerd for a second host (secondhost.py), inside its network namespace and a private
mount namespace: `ip netns exec` remounts /sys, which hides the cgroup hierarchies dockerd needs,
so they are mounted again here before dockerd replaces this process.

Usage: python3 netns_dockerd.py ROOT BRIDGE_CIDR
"""

import ctypes
import os
import sys

libc = ctypes.CDLL(None, use_errno=True)


def mount(source: str, target: str, fstype: str, options: str) -> None:
    os.makedirs(target, exist_ok=True)
    if libc.mount(source.encode(), target.encode(), fstype.encode(), 0, options.encode()) != 0:
        code = ctypes.get_errno()
        raise OSError(code, f"mount {fstype} on {target}: {os.strerror(code)}")


def main() -> None:
    root, bridge = sys.argv[1], sys.argv[2]
    mount("tmpfs", "/sys/fs/cgroup", "tmpfs", "")
    with open("/proc/self/cgroup") as f:
        # The v1 hierarchies this kernel has, as the host mounts them (cpu,cpuacct may be joined).
        hierarchies = [line.split(":")[1] for line in f if line.split(":")[1] and not line.split(":")[1].startswith("name=")]
    for names in hierarchies:
        mount("cgroup", f"/sys/fs/cgroup/{names}", "cgroup", names)
    mount("cgroup", "/sys/fs/cgroup/systemd", "cgroup", "none,name=systemd")
    os.execvp("dockerd", ["dockerd", "--data-root", f"{root}/data", "--exec-root", f"{root}/exec", "--pidfile", f"{root}/dockerd.pid",
                          "-H", f"unix://{root}/docker.sock", "--bip", bridge, "--iptables=true"])


main()
