"""Backup and restore of the whole site: every table and every stored evidence file, checksummed.

A backup is one gzip-compressed tar archive:

    manifest.json          format, when, Django and database vendor, the applied migrations,
                           per table (model label): db table, row count, sha256 of its data file;
                           per stored file: sha256 and size
    data/<label>.jsonl     one JSON object per row ({"model", "pk", "fields"}), in primary-key
                           order, written with a canonical encoding: the file's sha256 is the
                           table's content checksum, the same on SQLite and PostgreSQL
    media/<name>           every file a FileField points at (evidence, thumbnails, agreements),
                           read through the storage, so an S3 bucket is backed up the same way

Rows are streamed (chunked iterators and temporary files), so a large table is never held in
memory. The dump runs in one read transaction (REPEATABLE READ on PostgreSQL): a consistent
snapshot even while the site is being written to.

`restore` checks the manifest and every member's checksum and the migration state before it
touches anything; then, in one transaction, it empties every table, loads every row with its
original primary key, resets the sequences, re-computes every table's checksum (a mismatch rolls
everything back) and writes the files back to the storage.
"""

import datetime
import decimal
import hashlib
import io
import json
import os
import tarfile
import tempfile
import uuid
from dataclasses import dataclass, field
from itertools import batched

from django import get_version
from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.core import serializers
from django.core.management.color import no_style
from django.core.serializers.python import Serializer as PythonSerializer
from django.db import DEFAULT_DB_ALIAS, connections, models, transaction
from django.db.migrations.recorder import MigrationRecorder
from django.db.models.functions import Collate
from django.utils import timezone
from django.utils.duration import duration_iso_string

FORMAT = "cobuild-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
CHUNK = 2000
COPY_BUFFER = 1024 * 1024


class BackupError(Exception):
    """A backup cannot be made or restored; the message is for the operator, in Chinese."""


# Hooks for tables that must be handled around a restore. Each is called with the connection
# inside the restore's transaction: BEFORE_RESTORE after the checks and before the tables are
# emptied, AFTER_RESTORE once every row is back and verified. Row-level triggers are already
# dealt with generically (PostgreSQL: DISABLE/ENABLE TRIGGER USER on every table; SQLite: the
# triggers are dropped and re-created from sqlite_master), so an append-only audit table whose
# triggers refuse DELETE is emptied and reloaded like any other; an app that must do more (write
# an audit row saying the data was restored, say) appends a function here.
BEFORE_RESTORE = []
AFTER_RESTORE = []


# --- Canonical encoding ------------------------------------------------------------------------


class _Encoder(json.JSONEncoder):
    """Like DjangoJSONEncoder, but keeps microseconds: a restore gives back exactly what was."""

    def default(self, o):
        if isinstance(o, datetime.datetime | datetime.date | datetime.time):
            return o.isoformat()
        if isinstance(o, datetime.timedelta):
            return duration_iso_string(o)
        if isinstance(o, decimal.Decimal | uuid.UUID):
            return str(o)
        if isinstance(o, bytes | memoryview):
            return bytes(o).hex()
        return super().default(o)


def _line(obj):
    return (
        json.dumps(obj, cls=_Encoder, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        + "\n"
    ).encode()


class _RowSerializer(PythonSerializer):
    """Django's python serializer without many-to-many fields: their tables are dumped as
    models of their own (auto-created through models), row by row like any other."""

    def handle_m2m_field(self, obj, field):
        pass


def backed_up_models():
    """Every concrete, managed model whose table exists, auto-created through tables included."""
    connection = connections[DEFAULT_DB_ALIAS]
    tables = set(connection.introspection.table_names())
    return sorted(
        (
            model
            for model in apps.get_models(include_auto_created=True)
            if model._meta.managed and not model._meta.proxy and model._meta.db_table in tables
        ),
        key=lambda model: model._meta.label,
    )


def _ordered_rows(model, connection):
    """All rows in primary-key order; text keys compare bytewise, the same on every database."""
    pk = model._meta.pk
    queryset = model._base_manager.using(connection.alias)
    if isinstance(pk, models.CharField | models.TextField):
        collation = "C" if connection.vendor == "postgresql" else "BINARY"
        queryset = queryset.order_by(Collate("pk", collation))
    else:
        queryset = queryset.order_by("pk")
    return queryset.iterator(chunk_size=CHUNK)


def dump_table(model, out, connection=None):
    """Write the model's rows as canonical JSON lines to `out`; return (rows, sha256)."""
    connection = connection or connections[DEFAULT_DB_ALIAS]
    digest = hashlib.sha256()
    rows = 0
    serializer = _RowSerializer()
    for chunk in batched(_ordered_rows(model, connection), CHUNK):
        for obj in serializer.serialize(chunk):
            data = _line(obj)
            digest.update(data)
            if out is not None:
                out.write(data)
            rows += 1
    return rows, digest.hexdigest()


def table_fingerprints():
    """{model label: (rows, sha256)} for every backed-up table, as the database holds it now."""
    return {model._meta.label: dump_table(model, None) for model in backed_up_models()}


def applied_migrations(connection=None):
    connection = connection or connections[DEFAULT_DB_ALIAS]
    return sorted([app, name] for app, name in MigrationRecorder(connection).applied_migrations())


# --- Stored files --------------------------------------------------------------------------------


def stored_files():
    """{storage name: storage} for every file a FileField of any row points at."""
    found = {}
    for model in backed_up_models():
        for model_field in model._meta.concrete_fields:
            if not isinstance(model_field, models.FileField):
                continue
            names = (
                model._base_manager.using(DEFAULT_DB_ALIAS)
                .exclude(**{model_field.attname: ""})
                .exclude(**{f"{model_field.attname}__isnull": True})
                .values_list(model_field.attname, flat=True)
                .distinct()
                .iterator(chunk_size=CHUNK)
            )
            for name in names:
                found.setdefault(name, model_field.storage)
    return found


def _safe_member_name(name):
    """Refuse absolute paths and `..` in archive member names (a hostile archive)."""
    parts = name.split("/")
    if name.startswith("/") or any(part in ("", ".", "..") for part in parts):
        raise BackupError(f"备份文件中有不安全的文件名“{name}”，拒绝恢复。")
    return name


class _HashingReader(io.RawIOBase):
    def __init__(self, raw):
        self.raw = raw
        self.digest = hashlib.sha256()

    def readable(self):
        return True

    def read(self, size=-1):
        data = self.raw.read(size)
        self.digest.update(data)
        return data


def _sha256_of(fileobj):
    digest = hashlib.sha256()
    size = 0
    while chunk := fileobj.read(COPY_BUFFER):
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


# --- Backup --------------------------------------------------------------------------------------


@dataclass
class BackupResult:
    path: str
    tables: int
    rows: int
    files: int
    missing_files: list = field(default_factory=list)


def backup(path, *, log=lambda message: None):
    """Write a backup of the database and the stored files to `path` (a .tar.gz archive)."""
    connection = connections[DEFAULT_DB_ALIAS]
    target = os.path.abspath(path)
    partial = f"{target}.partial"
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "created_at": timezone.now().isoformat(),
        "django_version": get_version(),
        "database_vendor": connection.vendor,
        "migrations": [],
        "tables": {},
        "files": {},
        "missing_files": [],
    }
    # A snapshot for the whole dump, unless already inside a transaction (a test's).
    snapshot = connection.vendor == "postgresql" and not connection.in_atomic_block
    try:
        with tarfile.open(partial, "w:gz") as archive, transaction.atomic():
            if snapshot:
                with connection.cursor() as cursor:
                    cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            manifest["migrations"] = applied_migrations(connection)
            for model in backed_up_models():
                label = model._meta.label
                with tempfile.TemporaryFile() as spool:
                    rows, sha = dump_table(model, spool, connection)
                    size = spool.tell()
                    spool.seek(0)
                    info = tarfile.TarInfo(f"data/{label}.jsonl")
                    info.size = size
                    info.mtime = int(timezone.now().timestamp())
                    archive.addfile(info, spool)
                manifest["tables"][label] = {
                    "db_table": model._meta.db_table,
                    "rows": rows,
                    "sha256": sha,
                }
                log(f"  {label}: {rows} 行")
            files = stored_files()
            for name, storage in sorted(files.items()):
                try:
                    size = storage.size(name)
                    handle = storage.open(name, "rb")
                except (FileNotFoundError, OSError):
                    manifest["missing_files"].append(name)
                    continue
                with handle:
                    reader = _HashingReader(handle)
                    info = tarfile.TarInfo(f"media/{_safe_member_name(name)}")
                    info.size = size
                    info.mtime = int(timezone.now().timestamp())
                    archive.addfile(info, reader)
                manifest["files"][name] = {"sha256": reader.digest.hexdigest(), "size": size}
            body = json.dumps(manifest, ensure_ascii=False, indent=1, sort_keys=True).encode()
            info = tarfile.TarInfo(MANIFEST)
            info.size = len(body)
            info.mtime = int(timezone.now().timestamp())
            archive.addfile(info, io.BytesIO(body))
        os.replace(partial, target)
    finally:
        if os.path.exists(partial):
            os.remove(partial)
    return BackupResult(
        path=target,
        tables=len(manifest["tables"]),
        rows=sum(t["rows"] for t in manifest["tables"].values()),
        files=len(manifest["files"]),
        missing_files=manifest["missing_files"],
    )


# --- Restore -------------------------------------------------------------------------------------


def read_manifest(archive):
    try:
        member = archive.getmember(MANIFEST)
        manifest = json.load(archive.extractfile(member))
    except (KeyError, ValueError, tarfile.TarError, OSError) as error:
        raise BackupError(
            f"备份文件中没有可读的清单（{MANIFEST}），不是本系统的备份或已损坏。"
        ) from error
    if manifest.get("format") != FORMAT:
        raise BackupError("这不是本系统的备份文件。")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise BackupError(
            f"备份格式版本为 {manifest.get('format_version')}，本系统只能恢复第 {FORMAT_VERSION} 版。"
        )
    return manifest


def verify_archive(path):
    """Check the archive against its manifest, member by member; return the manifest.

    Raises BackupError naming what is wrong: a member missing, extra or with another checksum,
    or the archive unreadable. Reads the whole archive once; touches nothing.
    """
    try:
        with tarfile.open(path, "r:*") as archive:
            manifest = read_manifest(archive)
            expected = {
                f"data/{label}.jsonl": t["sha256"] for label, t in manifest["tables"].items()
            }
            expected.update({f"media/{name}": f["sha256"] for name, f in manifest["files"].items()})
            seen = set()
            for member in archive:
                if member.name == MANIFEST:
                    continue
                _safe_member_name(member.name)
                if not member.isfile() or member.name not in expected:
                    raise BackupError(f"备份文件中有清单之外的内容“{member.name}”，拒绝恢复。")
                sha, _ = _sha256_of(archive.extractfile(member))
                if sha != expected[member.name]:
                    raise BackupError(
                        f"备份文件已损坏：“{member.name}”的校验和与清单不符，拒绝恢复，数据库未作任何改动。"
                    )
                seen.add(member.name)
    except FileNotFoundError as error:
        raise BackupError(f"找不到备份文件“{path}”。") from error
    except (tarfile.TarError, EOFError, OSError, ValueError) as error:
        raise BackupError(
            f"备份文件已损坏或不完整，无法读取（{error}），数据库未作任何改动。"
        ) from error
    missing = sorted(set(expected) - seen)
    if missing:
        raise BackupError(f"备份文件不完整：缺少“{missing[0]}”等 {len(missing)} 项，拒绝恢复。")
    return manifest


def check_compatible(manifest):
    """Refuse a backup taken at another migration state or with other tables."""
    theirs = {tuple(m) for m in manifest["migrations"]}
    ours = {tuple(m) for m in applied_migrations()}
    if theirs != ours:
        only_backup = sorted(theirs - ours)
        only_here = sorted(ours - theirs)
        detail = []
        if only_backup:
            detail.append(
                "备份中有而当前数据库没有的迁移："
                + "、".join(f"{a}.{n}" for a, n in only_backup[:5])
            )
        if only_here:
            detail.append(
                "当前数据库有而备份中没有的迁移：" + "、".join(f"{a}.{n}" for a, n in only_here[:5])
            )
        raise BackupError(
            "备份的数据库结构版本与当前数据库不同，拒绝恢复。"
            + "；".join(detail)
            + "。请先把程序和数据库迁移到备份时的版本（manage.py migrate）再恢复。"
        )
    labels = {model._meta.label for model in backed_up_models()}
    if labels != set(manifest["tables"]):
        extra = sorted(set(manifest["tables"]) - labels) + sorted(labels - set(manifest["tables"]))
        raise BackupError(f"备份中的数据表与当前数据库不一致（如 {extra[0]}），拒绝恢复。")


def triggers_off(connection, tables):
    """Switch user triggers off for the restore; return a function switching them back on."""
    if connection.vendor == "postgresql":
        quoted = [connection.ops.quote_name(t) for t in tables]
        with connection.cursor() as cursor:
            for table in quoted:
                cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")

        def enable():
            with connection.cursor() as cursor:
                for table in quoted:
                    cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")

        return enable
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")
            triggers = cursor.fetchall()
            for name, _ in triggers:
                cursor.execute(f"DROP TRIGGER {connection.ops.quote_name(name)}")

        def recreate():
            with connection.cursor() as cursor:
                for _, sql in triggers:
                    cursor.execute(sql)

        return recreate
    return lambda: None


def empty_every_table():
    """Delete every row of every backed-up table, append-only ones included (for tests and
    drills: what a lost server looks like). One transaction; the triggers stay in place."""
    connection = connections[DEFAULT_DB_ALIAS]
    tables = [model._meta.db_table for model in backed_up_models()]
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        triggers_back = triggers_off(connection, tables)
        connection.ops.execute_sql_flush(connection.ops.sql_flush(no_style(), tables))
        triggers_back()


def _load_table(model, archive, member, connection):
    """Insert the rows of one data file, in chunks, keeping their primary keys."""
    rows = 0
    lines = (json.loads(line) for line in archive.extractfile(member))
    objects = (
        deserialized.object
        for deserialized in serializers.deserialize("python", lines, using=connection.alias)
    )
    manager = model._base_manager.using(connection.alias)
    for chunk in batched(objects, CHUNK):
        if model._meta.parents:  # multi-table inheritance: bulk_create cannot, save each
            for obj in chunk:
                models.Model.save_base(obj, raw=True, using=connection.alias)
        else:
            manager.bulk_create(chunk)
        rows += len(chunk)
    return rows


def _restore_files(archive, manifest):
    """Write every stored file back through its storage, under exactly its old name.

    Runs once the rows are back, so the storage of each file is the one its field names.
    A file already there with the same content is left alone.
    """
    storages = stored_files()
    for name, expected in sorted(manifest["files"].items()):
        storage = storages[name]
        if storage.exists(name):
            with storage.open(name, "rb") as current:
                if _sha256_of(current)[0] == expected["sha256"]:
                    continue
            storage.delete(name)
        saved = storage.save(name, archive.extractfile(f"media/{name}"))
        if saved != name:
            raise BackupError(f"无法按原文件名恢复“{name}”（存储改名为“{saved}”）。")


@dataclass
class RestoreResult:
    tables: int
    rows: int
    files: int


def restore(path, *, log=lambda message: None):
    """Replace the database's contents and stored files with the backup at `path`.

    Everything is checked first (checksums, completeness, migration state); then the database is
    replaced in one transaction that is rolled back if any table's rows come back different.
    """
    manifest = verify_archive(path)
    check_compatible(manifest)
    connection = connections[DEFAULT_DB_ALIAS]
    by_label = {model._meta.label: model for model in backed_up_models()}
    tables = [model._meta.db_table for model in by_label.values()]
    rows = 0
    with tarfile.open(path, "r:*") as archive, transaction.atomic():
        if connection.vendor == "postgresql":
            # Check now what this transaction wrote before (a test's fixtures): TRUNCATE and
            # ALTER TABLE refuse tables with pending trigger events; then defer again, so rows
            # may arrive in any order and foreign keys are checked once, at commit.
            with connection.cursor() as cursor:
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        for hook in BEFORE_RESTORE:
            hook(connection)
        triggers_back = triggers_off(connection, tables)
        connection.ops.execute_sql_flush(
            connection.ops.sql_flush(no_style(), tables, allow_cascade=False)
        )
        for label, model in by_label.items():
            loaded = _load_table(model, archive, f"data/{label}.jsonl", connection)
            rows += loaded
            log(f"  {label}: {loaded} 行")
        sequences = connection.ops.sequence_reset_sql(no_style(), list(by_label.values()))
        if sequences:
            with connection.cursor() as cursor:
                for sql in sequences:
                    cursor.execute(sql)
        if connection.vendor == "postgresql":
            # Check every foreign key now (a broken one raises and undoes the restore); the
            # triggers cannot be switched back on while checks are pending.
            with connection.cursor() as cursor:
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        else:
            connection.check_constraints(table_names=tables)
        for label, model in by_label.items():
            count, sha = dump_table(model, None, connection)
            expected = manifest["tables"][label]
            if (count, sha) != (expected["rows"], expected["sha256"]):
                raise BackupError(
                    f"恢复后“{label}”的数据与备份不一致（{count} 行，备份为 {expected['rows']} 行），"
                    "已全部撤销，数据库保持恢复前的状态。"
                )
        triggers_back()
        for hook in AFTER_RESTORE:
            hook(connection)
        _restore_files(archive, manifest)
    ContentType.objects.clear_cache()
    return RestoreResult(tables=len(by_label), rows=rows, files=len(manifest["files"]))


def media_fingerprints():
    """{storage name: sha256} of every stored file the database points at (for checks)."""
    result = {}
    for name, storage in stored_files().items():
        try:
            with storage.open(name, "rb") as handle:
                result[name] = _sha256_of(handle)[0]
        except (FileNotFoundError, OSError):
            result[name] = None
    return result


__all__ = [
    "AFTER_RESTORE",
    "BEFORE_RESTORE",
    "BackupError",
    "backup",
    "media_fingerprints",
    "restore",
    "table_fingerprints",
    "verify_archive",
]
