"""Map the product-card folders onto one package, `realtime`.

    src/server          -> realtime.server   (the hub)
    src/clients/python  -> realtime.client   (client library and the `realtime` CLI)
    src/common          -> realtime.common   (what both use; the client never imports the server)
    gen/python/realtime -> realtime.v1 ...   (generated protobuf and gRPC code)

`realtime` itself is a namespace package, so no generic top-level name
(`server`, `clients`) lands in site-packages.
"""

from setuptools import find_packages, setup

ROOTS = {
    "realtime.server": "src/server",
    "realtime.client": "src/clients/python",
    "realtime.common": "src/common",
    "realtime.v1": "gen/python/realtime/v1",
}

packages: list[str] = []
package_dir: dict[str, str] = {}
for name, path in ROOTS.items():
    package_dir[name] = path
    packages.append(name)
    packages.extend(f"{name}.{sub}" for sub in find_packages(path))

setup(packages=packages, package_dir=package_dir, package_data={"realtime.server": ["**/*.lua", "**/*.json", "**/*.html", "**/*.js", "**/*.css"]})
