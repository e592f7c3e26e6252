"""How long `pulsebridge user delete` takes on a well-used database (the search reads every text column ERASURE_MAP lists).

    .venv/bin/python benchmarks/user_delete.py                       # SQLite in a temp dir
    .venv/bin/python benchmarks/user_delete.py postgresql+psycopg://postgres@127.0.0.1:5432/test

Seeds USERS people, KUDOS kudos (reasons mention people by name), an outbox row per kudos DM and
channel post (payloads with mentions), FEEDBACK customer feedback records with raw payloads, then
times `storage.erasure.erase_person` for RUNS different people (each in its own transaction).
"""

from __future__ import annotations

import random
import statistics
import sys
import tempfile
import time
import uuid

from sqlalchemy import text

USERS, KUDOS, FEEDBACK, RUNS = 2000, 50_000, 20_000, 5


def main(base_url: str | None) -> None:
    from storage.kernel.db import make_engine, session
    from storage.datarights.erasure import erase_person
    from storage.feedback.tables import Feedback
    from storage.kernel.migrate import upgrade
    from storage.directory.tables import User
    from storage.kernel.tables import OutboxMessage
    from storage.recognition.tables import Kudos, KudosRecipient

    if base_url:
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        admin = make_engine(base_url)
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = f"{base_url}{'&' if '?' in base_url else '?'}options=-csearch_path%3D{schema}"
    else:
        url = f"sqlite:///{tempfile.mkdtemp()}/bench.db"
    try:
        upgrade(url)
        engine = make_engine(url)
        rng = random.Random(7)
        with session(engine) as s, s.begin():
            users = [User(platform="slack", external_id=f"U{i:06d}", display_name=f"Person Number{i}", email=f"p{i}@example.com") for i in range(USERS)]
            s.add_all(users)
            s.flush()
            ids = [(u.id, u.external_id, u.display_name) for u in users]
            for k in range(KUDOS):
                giver, to = rng.sample(ids, 2)
                kudos = Kudos(giver_id=giver[0], reason=f"for pairing with {to[2]} on ticket {k}", platform="slack", source_key=f"k{k}")
                s.add(kudos)
                s.flush()
                s.add(KudosRecipient(kudos_id=kudos.id, user_id=to[0]))
                message = {"_t": "Message", "summary": f"kudos for {to[2]}", "blocks": [{"_t": "Mention", "user": {"_t": "UserRef", "platform": "slack", "external_id": to[1], "display_name": to[2]}}]}
                s.add(OutboxMessage(key=f"kudos:{kudos.id}:dm:{to[0]}", platform="slack", destination=f"dm:{to[1]}", status="sent", payload={"message": message}))
                s.add(OutboxMessage(key=f"kudos:{kudos.id}:channel:C0", platform="slack", destination="channel:C0", status="sent", payload={"message": message}))
            for f in range(FEEDBACK):
                person = rng.choice(ids)
                s.add(
                    Feedback(
                        source="survey", external_id=f"f{f}", text=f"{person[2]} was great", sentiment="positive", status="relayed",
                        routed_user_id=person[0], agent_email=f"p{person[0] - 1}@example.com", raw={"text": f"{person[2]} was great", "agent": person[1]},
                    )
                )
        times = []
        for run in range(RUNS):
            email = f"p{rng.randrange(USERS)}@example.com"
            start = time.perf_counter()
            with session(engine) as s, s.begin():
                report = erase_person(s, email)
            times.append(time.perf_counter() - start)
            print(f"run {run + 1}: {times[-1]:.2f} s ({report.kudos_received_removed} kudos received, {report.feedback_unlinked} feedback, scrubbed {report.scrubbed})")
        print(f"{'PostgreSQL' if base_url else 'SQLite'}: users {USERS}, kudos {KUDOS}, outbox {2 * KUDOS}, feedback {FEEDBACK}: median {statistics.median(times):.2f} s, max {max(times):.2f} s")
    finally:
        if base_url:
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else None)
