"""The provider kit: what AWS, GCP, Azure and QEMU stand on.

:mod:`~lkcloud.provider.interface` (the Provider protocol), :mod:`~lkcloud.provider.types` (the
values they take and return), :mod:`~lkcloud.provider.registry` (the lazy registry and the
providers' option tables, :mod:`~lkcloud.provider.options`), :mod:`~lkcloud.provider.release`
(what the user named -> build -> push -> record, :mod:`~lkcloud.provider.records`),
:mod:`~lkcloud.provider.calls` (the one retry and wait layer) with
:mod:`~lkcloud.provider.concurrency`, :mod:`~lkcloud.provider.prune`, :mod:`~lkcloud.provider.tags`,
:mod:`~lkcloud.provider.render` and :mod:`~lkcloud.provider.push_all`.
"""
