"""Backups: `manage.py backup PATH` and `manage.py restore PATH` give back every row and every file.

A backup of the demo county with real uploads is taken, the database and the evidence files are
wiped, and the restore must give back each table's row count and content checksum and each file's
bytes. A damaged archive, or one from another migration state, is refused before anything changes.
"""

import datetime
import gzip
import io
import json
import tarfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.db import connection

from activities import workflow
from activities.evidence import process_upload
from activities.models import Activity, Evidence, Metric, Regime
from cobuild import backup
from pairings.models import Member, Pairing
from reports import demo
from tests.factories import make_jpeg

pytestmark = pytest.mark.django_db

TINY_PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture
def county():
    """The demo county, plus one activity logged through the workflow with a photo and a PDF."""
    demo.seed(scale="demo", today=datetime.date(2026, 11, 27))
    pairing = Pairing.objects.order_by("pk").first()
    members = list(Member.objects.filter(branch=pairing.helper)[:2])
    by = demo_user("organ_secretary")
    activity = Activity(
        pairing=pairing,
        regime=Regime.objects.get(code="activity_day"),
        category=Activity.Category.STUDY,
        date=datetime.date(2026, 11, 20),
        title="备份测试：学习会",
        place="村委会",
        logged_by_branch=pairing.helper,
    )
    files = [
        process_upload(SimpleUploadedFile("照片.jpg", make_jpeg(), "image/jpeg")),
        process_upload(SimpleUploadedFile("签到表.pdf", TINY_PDF, "application/pdf")),
    ]
    workflow.create_activity(
        activity=activity,
        participants=members,
        outcomes={Metric.objects.get(code="training"): 25},
        files=files,
        by=by,
        submit=True,
    )
    return activity


def demo_user(username):
    from django.contrib.auth.models import User

    return User.objects.get(username=username)


def wipe_everything():
    """What a lost server looks like: every table empty, every stored file gone."""
    for name, storage in backup.stored_files().items():
        storage.delete(name)
    backup.empty_every_table()


def file_bytes():
    result = {}
    for name, storage in backup.stored_files().items():
        with storage.open(name, "rb") as handle:
            result[name] = handle.read()
    return result


def rewrite_archive(source, target, change):
    """Copy a backup archive, letting `change(name, data)` alter each member's bytes."""
    with tarfile.open(source, "r:gz") as old, tarfile.open(target, "w:gz") as new:
        for member in old:
            data = change(member.name, old.extractfile(member).read())
            info = tarfile.TarInfo(member.name)
            info.size = len(data)
            new.addfile(info, io.BytesIO(data))


def test_backup_wipe_restore_gives_back_every_table_and_every_file(county, tmp_path):
    tables_before = backup.table_fingerprints()
    files_before = file_bytes()
    evidence = Evidence.objects.filter(activity=county)
    assert evidence.count() == 2
    assert len(files_before) == 3  # the photo, its thumbnail and the PDF
    assert sum(rows for rows, _ in tables_before.values()) > 5000
    assert tables_before["activities.Participation"][0] > 0
    assert tables_before["activities.HistoricalActivity"][0] > 0

    path = tmp_path / "cobuild.tar.gz"
    out = io.StringIO()
    call_command("backup", str(path), stdout=out)
    assert "备份完成" in out.getvalue()

    wipe_everything()
    assert all(rows == 0 for rows, _ in backup.table_fingerprints().values())
    assert backup.media_fingerprints() == {}
    assert not Activity.objects.exists()

    out = io.StringIO()
    call_command("restore", str(path), "--noinput", stdout=out)
    assert "恢复完成" in out.getvalue()

    tables_after = backup.table_fingerprints()
    assert tables_after.keys() == tables_before.keys()
    for label, (rows, sha) in tables_before.items():
        assert tables_after[label] == (rows, sha), label
    assert file_bytes() == files_before
    restored = Activity.objects.get(client_id=county.client_id)
    assert restored.participations.count() == 2
    assert restored.outcomes.get().value == 25
    assert restored.history.count() == 1
    # The sequences moved past the restored keys: the next activity gets a fresh id.
    again = Activity.objects.create(
        pairing=restored.pairing,
        date=restored.date,
        title="恢复后新登记",
        category=Activity.Category.STUDY,
        logged_by_branch=restored.logged_by_branch,
    )
    assert again.pk > Activity.objects.exclude(pk=again.pk).order_by("-pk").first().pk


def test_a_restored_site_lets_its_users_log_in(county, tmp_path, client):
    path = tmp_path / "cobuild.tar.gz"
    call_command("backup", str(path), stdout=io.StringIO())
    wipe_everything()
    call_command("restore", str(path), "--noinput", stdout=io.StringIO())
    assert client.login(username="village_secretary", password=demo.DEMO_PASSWORD)
    response = client.get(county.get_absolute_url())
    assert response.status_code == 200
    assert "备份测试：学习会" in response.text


def test_a_corrupted_archive_is_refused_and_changes_nothing(county, tmp_path):
    path = tmp_path / "cobuild.tar.gz"
    call_command("backup", str(path), stdout=io.StringIO())
    county.title = "备份之后的修改"
    county.save()
    before = backup.table_fingerprints()
    files_before = file_bytes()

    def flip_a_byte(name, data):
        if name == "data/activities.Activity.jsonl":
            return data.replace("备份测试".encode(), "被篡改了".encode())
        return data

    damaged = tmp_path / "damaged.tar.gz"
    rewrite_archive(path, damaged, flip_a_byte)
    with pytest.raises(CommandError, match="校验和与清单不符"):
        call_command("restore", str(damaged), "--noinput", stdout=io.StringIO())

    truncated = tmp_path / "truncated.tar.gz"
    truncated.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(CommandError, match="已损坏"):
        call_command("restore", str(truncated), "--noinput", stdout=io.StringIO())

    def drop_the_photo(name, data):
        return b"" if name.startswith("media/") and name.endswith(".jpg") else data

    emptied = tmp_path / "emptied.tar.gz"
    rewrite_archive(path, emptied, drop_the_photo)
    with pytest.raises(CommandError, match="校验和与清单不符"):
        call_command("restore", str(emptied), "--noinput", stdout=io.StringIO())

    assert backup.table_fingerprints() == before
    assert file_bytes() == files_before
    assert Activity.objects.get(pk=county.pk).title == "备份之后的修改"


def test_a_backup_from_another_migration_state_is_refused(county, tmp_path):
    path = tmp_path / "cobuild.tar.gz"
    call_command("backup", str(path), stdout=io.StringIO())

    def older_schema(name, data):
        if name != backup.MANIFEST:
            return data
        manifest = json.loads(data)
        manifest["migrations"] = [m for m in manifest["migrations"] if m[0] != "activities"][:-1]
        manifest["migrations"].append(["activities", "0001_initial"])
        return json.dumps(manifest).encode()

    old = tmp_path / "old.tar.gz"
    rewrite_archive(path, old, older_schema)
    before = backup.table_fingerprints()
    with pytest.raises(CommandError, match="数据库结构版本与当前数据库不同"):
        call_command("restore", str(old), "--noinput", stdout=io.StringIO())
    assert backup.table_fingerprints() == before


def test_something_that_is_not_a_backup_is_refused(tmp_path):
    path = tmp_path / "notes.tar.gz"
    path.write_bytes(gzip.compress(b"just some text"))
    with pytest.raises(CommandError, match=r"已损坏|不是本系统的备份"):
        call_command("restore", str(path), "--noinput", stdout=io.StringIO())
    with pytest.raises(CommandError, match="找不到备份文件"):
        call_command("restore", str(tmp_path / "missing.tar.gz"), "--noinput")


def test_restore_check_only_verifies(county, tmp_path):
    path = tmp_path / "cobuild.tar.gz"
    call_command("backup", str(path), stdout=io.StringIO())
    county.delete()
    out = io.StringIO()
    call_command("restore", str(path), "--check", stdout=out)
    assert "核对无误" in out.getvalue()
    assert not Activity.objects.filter(pk=county.pk).exists()


def refuse_deletes_trigger():
    """An append-only table as the audit log will have: a trigger refusing every DELETE."""
    table = "reports_notification"
    if connection.vendor == "postgresql":
        return [
            "CREATE FUNCTION test_refuse_delete() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'append-only'; END $$",
            f"CREATE TRIGGER test_append_only BEFORE DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION test_refuse_delete()",
            f"CREATE TRIGGER test_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION test_refuse_delete()",
        ]
    return [
        f"CREATE TRIGGER test_append_only BEFORE DELETE ON {table} "
        "BEGIN SELECT RAISE(ABORT, 'append-only'); END"
    ]


def test_tables_with_triggers_refusing_deletes_are_restored_and_keep_their_triggers(
    county, tmp_path
):
    from django.db import DatabaseError

    from reports.models import Notification

    user = demo_user("county")
    Notification.objects.create(
        user=user, kind="returned", key="test:append-only", title="只增不删的记录", url="/"
    )
    with connection.cursor() as cursor:
        for sql in refuse_deletes_trigger():
            cursor.execute(sql)
    before = backup.table_fingerprints()
    path = tmp_path / "cobuild.tar.gz"
    call_command("backup", str(path), stdout=io.StringIO())
    Notification.objects.filter(title="只增不删的记录").update(title="改过")

    call_command("restore", str(path), "--noinput", stdout=io.StringIO())

    assert backup.table_fingerprints() == before
    assert Notification.objects.filter(title="只增不删的记录").exists()
    with pytest.raises(DatabaseError, match="append-only"):  # the trigger is back in force
        from django.db import transaction

        with transaction.atomic():
            Notification.objects.all().delete()
