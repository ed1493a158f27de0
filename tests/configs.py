"""The tables of ``config.toml`` that the test and benchmark configs share.

The functional tests (``tests/functional/_absence.py``), the fault tests
(``tests/faults/cluster.py``) and the HTTP benchmarks (``bench/bench_ingest.py``) each
write a config of their own (their storage, checkpoints, server and scheduler settings
differ); the absence domain's tables below are the same in all three: a vault key in the
data directory, the government policy (the default), a file outbox instead of real
e-mail and SMS, and the platform's webhook secrets in the key directory.  ``{data}``
stays as it is: ``ledger.config.load_settings`` replaces it with the data directory.
"""

from __future__ import annotations


def absence_tables(log: str, *, grace_s: int = 600, retention_days: int | None = 30,
                   government: str = "", platform: str = "") -> str:
    """``[absence]`` for ``log``, ``[policies.government]``, ``[notifications]`` and
    ``[platform]`` as TOML text.

    ``grace_s`` is the policy's grace period; ``retention_days`` None leaves the
    configured default; ``government`` and ``platform`` are more ``key = value`` lines of
    those two tables (TOML allows no second ``[platform]`` further down).
    """
    retention = "" if retention_days is None else f"retention_days = {retention_days}\n"
    return (f'[absence]\nlog = "{log}"\nmaster_key = "{{data}}/keys/vault-master.key"\n'
            f'default_policy = "government"\n{retention}\n'
            f'[policies.government]\nmode = "government"\ngrace_s = {grace_s}\n'
            f"{_lines(government)}appeal_period_s = 604800\n{NOTICE_SETTINGS}\n"
            '[notifications]\nemail = "file"\nsms = "file"\n'
            'file_path = "{data}/outbox.jsonl"\n\n'
            '[platform]\nwebhook_secrets_file = "{data}/keys/platform-webhook-secrets"\n'
            f"{_lines(platform)}")


#: The notice settings every test policy sets (``ledger.absence.notice_settings``):
#: without them publishing a notice is refused.
NOTICE_SETTINGS = (
    'notice_issuing_office = "示例市人力资源和社会保障局"\n'
    'notice_supervision_phone = "010-12345678"\n'
    'notice_objection_address = "示例市示例路1号人事考试中心"\n'
    'notice_objection_email = "objection@hr.example.gov.cn"\n')


def _lines(text: str) -> str:
    """``text`` ending in exactly one newline, or nothing if it is empty."""
    return text.strip("\n") + "\n" if text.strip() else ""
