"""envcheck on many hosts: the per-host outcomes and exit code (outcomes), the one-file artifact a host runs
(artifact), the Ansible driver (ansible: the only module importing ansible_runner), and the merged fleet view.

Ansible is an optional extra (``pip install 'envcheck[fleet]'``): nothing in this package imports it at module
level, so the core install and ``envcheck --help`` work without it.
"""
