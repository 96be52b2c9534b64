"""Moving Lab and StaffMember to ``accounts`` keeps a database made before the move intact.

The database is migrated back to the state before the move (``accounts`` unapplied, ``panels``
at 0008), rows are written with the models of that state, and then it is migrated forward: the
same rows are read through the moved models, with their foreign keys, and the content types
(and so the permissions given on them) now carry the ``accounts`` label.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.contrib.auth.models import User
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from labpanel.accounts.models import Lab, Role, StaffMember
from panels.models import Patient
from reference_ranges.models import ReferenceRangeSet

BEFORE_THE_MOVE_NODES = [
    ("panels", "0008_import_job_dispatch_failed"),
    ("reference_ranges", "0003_lab_configuration"),
]
BEFORE_THE_MOVE: list[tuple[str, str | None]] = [("accounts", None), *BEFORE_THE_MOVE_NODES]


@pytest.fixture
def executor() -> Iterator[MigrationExecutor]:
    executor = MigrationExecutor(connection)
    leaves = executor.loader.graph.leaf_nodes()
    yield executor
    # Whatever happened, leave the database fully migrated for the tests that follow.
    executor = MigrationExecutor(connection)
    executor.migrate(leaves)


@pytest.mark.django_db(transaction=True)
def test_rows_made_before_the_move_are_there_after_it(executor: MigrationExecutor) -> None:
    executor.migrate(BEFORE_THE_MOVE)
    old = executor.loader.project_state(BEFORE_THE_MOVE_NODES).apps
    assert "accounts" not in old.all_models or not old.all_models["accounts"]
    user = User.objects.create(username="old.director")
    lab = old.get_model("panels", "Lab").objects.create(name="Old Lab", clia_number="05D0000001")
    old.get_model("panels", "StaffMember").objects.create(
        user_id=user.pk, lab_id=lab.pk, role="director", provider_id="NPI-1"
    )
    old.get_model("panels", "Patient").objects.create(
        lab_id=lab.pk, mrn="MRN-OLD-1", family_name="Before", sex="female"
    )
    old.get_model("reference_ranges", "ReferenceRangeSet").objects.create(
        key="old-set", name="Old set", version="1", lab_id=lab.pk
    )
    ContentType.objects.clear_cache()
    ContentType.objects.get_or_create(app_label="panels", model="lab")
    ContentType.objects.get_or_create(app_label="panels", model="staffmember")

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())

    moved_lab = Lab.objects.get(pk=lab.pk)
    assert (moved_lab.name, moved_lab.clia_number) == ("Old Lab", "05D0000001")
    staff = StaffMember.objects.select_related("user", "lab").get(user__username="old.director")
    assert (staff.role, staff.lab, staff.provider_id) == (Role.DIRECTOR, moved_lab, "NPI-1")
    assert Patient.objects.select_related("lab").get(mrn="MRN-OLD-1").lab == moved_lab
    assert ReferenceRangeSet.objects.get(key="old-set").lab == moved_lab
    assert list(moved_lab.staff.all()) == [staff]
    ContentType.objects.clear_cache()
    labels = set(
        ContentType.objects.filter(model__in=["lab", "staffmember"]).values_list(
            "app_label", "model"
        )
    )
    assert labels == {("accounts", "lab"), ("accounts", "staffmember")}
    # New rows keep numbering after the old ones: the table and its sequence are the same.
    assert Lab.objects.create(name="New Lab").pk > lab.pk
