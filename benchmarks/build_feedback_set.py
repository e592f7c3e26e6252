"""Writes feedback_routing.jsonl: the labelled set for feedback_routing.py (run once; the output is committed).

Each label is what a careful person would conclude from that record alone: the employee who
earned the praise, or "triage" when nobody can be named with certainty (shared first names,
praise for a team, people we do not employ, or feedback that is not praise at all).
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

OUT = Path(__file__).with_name("feedback_routing.jsonl")
T = "triage"
_ids = itertools.count(1)


def e(local: str) -> str:
    return f"{local}@corp.example"


def generic(case, expected, text, *, score=5, scale="csat5", customer="Jordan Blake", account=None, agent=None):
    payload = {"source": "bench", "id": f"b-{next(_ids)}", "customer": {"name": customer, "account": account}, "score": score, "scale": scale, "text": text}
    if agent:
        payload["agent"] = agent
    return {"case": case, "expected": expected, "payload": payload}


def zendesk(case, expected, comment, agent_id, *, rating="Good, I'm satisfied", agent_email=None, org=None):
    n = next(_ids)
    ticket = {
        "id": str(40000 + n),
        "satisfaction": {"current_rating": rating, "current_comment": comment},
        "assignee": {"id": agent_id, "email": agent_email, "name": None},
        "requester": {"name": "Sam Customer"},
        "organization": {"name": org},
    }
    return {"case": case, "expected": expected, "payload": {"ticket": ticket}}


def intercom(case, expected, remark, teammate, rating=5):
    n = next(_ids)
    item = {
        "type": "conversation",
        "id": str(900000 + n),
        "source": {"author": {"type": "user", "name": "Riley Customer"}},
        "conversation_rating": {"rating": rating, "remark": remark, "created_at": 1763715590, "teammate": {"type": "admin", "id": teammate}},
    }
    return {"case": case, "expected": expected, "payload": {"type": "notification_event", "topic": "conversation.rating.added", "data": {"item": item}}}


def delighted(case, expected, comment, score, *, company=None, agent_email=None):
    n = next(_ids)
    props = {k: v for k, v in (("Company", company), ("Agent Email", agent_email)) if v}
    data = {"id": str(7000000 + n), "survey_type": "nps", "score": score, "comment": comment, "person": {"name": "Alex Customer"}, "person_properties": props}
    return {"case": case, "expected": expected, "payload": {"event_type": "survey_response.created", "event_data": data}}


records = []
add = records.append

# 1. explicit employee reference in the payload (email or platform id), whatever the text says.
for who, text in [
    ("guillermo.santos", "Fixed in ten minutes, thanks!"),
    ("maria.lopez", "Great help, very clear."),
    ("maria.chen", "Maria solved it quickly"),
    ("carla.diaz", "Thanks to the whole team, especially Tom"),
    ("robert.stone", "Excellent!"),
    ("william.turner", "Will definitely recommend you."),
    ("grace.kim", "Lovely support experience"),
    ("frank.miller", "Frank answer, fast fix. Thanks."),
    ("siobhan.oneill", "Very knowledgeable."),
    ("jose.ramirez", "Perfect, problem gone."),
    ("katherine.ng", "Thank you so much!"),
    ("dan.wu", "Dana from sales had sent me here, and this person fixed it"),
    ("dana.whitfield", "Brilliant service"),
    ("hope.adeyemi", "I hope you know how good your team is"),
    ("yuki.tanaka", "Super helpful"),
    ("liam.obrien", "Quick and friendly"),
]:
    add(generic("explicit_email", e(who), text, agent={"email": e(who).upper() if who == "robert.stone" else e(who)}))
for uid, who in [("U03", "carla.diaz"), ("U11", "katherine.ng"), ("U19", "erin.park"), ("U24", "liam.obrien"), ("U13", "priyanka.raman"),
                 ("U20", "mark.evans"), ("U06", "grace.kim"), ("U22", "mohammed.alfarsi")]:
    add(generic("explicit_platform_id", e(who), "Really appreciated the help!", agent={"id": f"slack:{uid}" if uid < "U10" else uid}))
add(delighted("explicit_email", e("sofia.rossi"), "Sofia's onboarding was perfect", 10, agent_email=e("sofia.rossi")))
add(delighted("explicit_email", e("anna.berg"), "Great product and people", 9, agent_email=e("anna.berg")))

# 2. agent mapping from config (external agent ids / outsourcer emails).
for agent, who, text in [
    ("1001", "guillermo.santos", "Quick and friendly, thank you"),
    ("1001", "guillermo.santos", ""),
    ("1002", "siobhan.oneill", "Problem solved on the first reply"),
    ("1002", "siobhan.oneill", "You guys are great"),
    ("1003", "maria.chen", "Maria was fantastic"),  # the mapping settles which Maria
    ("1003", "maria.chen", "Spot on, thanks"),
    ("1001", "guillermo.santos", "Excellent, thanks Carla for the earlier tips too"),
    ("1002", "siobhan.oneill", "Thanks!"),
]:
    add(zendesk("agent_mapping", e(who), text, agent))
for teammate, who, text in [
    ("5501", "tom.becker", "Tom knew exactly what to do"),
    ("5501", "tom.becker", "super fast"),
    ("5502", "katherine.ng", "Very patient with me"),
    ("5502", "katherine.ng", "Katie is a star"),
    ("5501", "tom.becker", ""),
    ("5502", "katherine.ng", "Thanks a million"),
]:
    add(intercom("agent_mapping", e(who), text, teammate))
for text in ["Outsourced but felt in-house. Great.", "Very helpful agent", "Five stars"]:
    add(generic("agent_mapping", e("yuki.tanaka"), text, agent={"email": "agent7@outsourcer.example"}))
add(zendesk("agent_mapping_stale", T, "Great support, thank you", "1999"))  # maps to a former employee
add(zendesk("agent_mapping_stale", T, "Lovely!", "1999"))
add(zendesk("agent_unmapped", T, "Great support, thank you", "3333"))
add(zendesk("agent_unmapped", e("carla.diaz"), "Carla Diaz sorted everything out", "3333"))

# 3a. one person named, exactly.
for who, text in [
    ("carla.diaz", "Carla fixed our SSO issue in minutes!"),
    ("guillermo.santos", "Guillermo went above and beyond."),
    ("siobhan.oneill", "Siobhan was a lifesaver today"),
    ("priyanka.raman", "Huge thanks to Priyanka for the quick turnaround"),
    ("aleksandr.petrov", "Aleksandr explained the API limits really well"),
    ("yuki.tanaka", "Yuki is the best support engineer I've dealt with"),
    ("benedikt.huber", "Benedikt's walkthrough saved us days"),
    ("sofia.rossi", "Sofia was incredibly responsive"),
    ("erin.park", "Erin made the migration painless"),
    ("tom.becker", "Tom stayed late to help us. Thank you!"),
    ("liam.obrien", "Liam was great"),
    ("mohammed.alfarsi", "Mohammed resolved it on the first call"),
    ("dan.wu", "Dan was fantastic"),
    ("dana.whitfield", "Dana was fantastic"),
    ("ana.lima", "Ana sorted the invoice mix-up"),
    ("anna.berg", "Anna sorted the invoice mix-up"),
    ("katherine.ng", "Katherine was super helpful"),
    ("robert.stone", "Robert is a legend"),
    ("jose.ramirez", "José fixed the integration"),
    ("maria.lopez", "Maria Lopez was wonderful"),
    ("maria.chen", "Maria Chen was wonderful"),
    ("william.turner", "William Turner took the time to explain everything"),
    ("grace.kim", "Grace Kim was amazing"),
    ("frank.miller", "Frank Miller solved it"),
    ("mark.evans", "Mark Evans gave us great advice"),
    ("hope.adeyemi", "Hope Adeyemi was wonderful"),
    ("erin.park", "Erin Park went the extra mile"),
    ("siobhan.oneill", "Many thanks to Siobhan O'Neill!"),
    ("carla.diaz", "Ms Diaz was very professional"),
    ("maria.lopez", "Ms. Lopez handled it perfectly"),
    ("jose.ramirez", "Mr Ramirez was great"),
    ("guillermo.santos", "Guillermo's patience was remarkable"),
]:
    add(generic("name_exact", e(who), text))

# 3b. lowercase, shouting, accents dropped.
for who, text in [
    ("siobhan.oneill", "thanks siobhan!!"),
    ("guillermo.santos", "guillermo rocks"),
    ("jose.ramirez", "Jose was brilliant"),
    ("jose.ramirez", "JOSE IS THE BEST"),
    ("priyanka.raman", "PRIYANKA saved the day"),
    ("yuki.tanaka", "yuki was lovely"),
    ("benedikt.huber", "cheers benedikt"),
    ("sofia.rossi", "sofia is awesome"),
]:
    add(generic("name_case_accents", e(who), text))

# 3c. typos.
for who, text in [
    ("guillermo.santos", "Guillermoo was great"),
    ("guillermo.santos", "Guilermo was great"),
    ("siobhan.oneill", "Siobahn was a star"),
    ("siobhan.oneill", "Shiobhan was so kind"),
    ("priyanka.raman", "Priyanca was quick"),
    ("priyanka.raman", "Priyanaka helped a lot"),
    ("aleksandr.petrov", "Aleksander knew everything"),
    ("aleksandr.petrov", "Alexsandr was great"),
    ("katherine.ng", "Katharine was super helpful"),
    ("katherine.ng", "Katherin was super helpful"),
    ("benedikt.huber", "Benedict was so helpful"),
    ("mohammed.alfarsi", "Mohamed fixed it"),
    ("mohammed.alfarsi", "Muhammed was excellent"),
    ("sofia.rossi", "Sophia was amazing"),
    ("yuki.tanaka", "Yukki was lovely"),
    ("tom.becker", "Tomm was great"),
    ("carla.diaz", "Carla Dias was great"),
    ("maria.chen", "Maria Chan was really kind"),
    ("erin.park", "Errin was lovely"),
    ("liam.obrien", "Liam OBrien was great"),
]:
    add(generic("name_typo", e(who), text))

# 3d. nicknames (built-in and configured).
for who, text in [
    ("robert.stone", "Bobby sorted it out in minutes"),
    ("robert.stone", "Rob was really helpful"),
    ("robert.stone", "Bob was brilliant"),
    ("katherine.ng", "Katie was a star"),
    ("katherine.ng", "Kate helped me a lot"),
    ("aleksandr.petrov", "Sasha knew the answer right away"),
    ("mohammed.alfarsi", "Mo was great"),
    ("william.turner", "Billy was great"),
    ("tom.becker", "Tommy was great"),
    ("dan.wu", "Danny was fantastic"),
]:
    add(generic("nickname", e(who), text))

# 3e. two people share a first name (Maria): only the full name or surname decides.
for text in ["Maria was amazing!", "maria rocks", "Thanks Maria", "Maria helped me a lot", "Mariaa was wonderful",
             "Ask for Maria, she's the best", "Maria solved it", "Big thanks to Maria!"]:
    add(generic("shared_first_name", T, text))
for who, text in [("maria.lopez", "Maria L... no, Maria Lopez was great"), ("maria.chen", "Thanks to Maria Chen"),
                  ("maria.lopez", "Ms Lopez was amazing"), ("maria.chen", "Chen was very helpful")]:
    add(generic("shared_first_name", e(who), text))

# 3f. names that are also ordinary words.
for text in [
    "Will definitely recommend, great support",
    "We will be back! Great service",
    "Grace under pressure - well done team",
    "Frank feedback: best support I've had",
    "To be frank, you were excellent",
    "Mark my words, you are the best",
    "I hope this gets to the right person: great job",
    "Hope you have a great day, thanks for the help",
    "Bill was paid quickly thanks to your help",
    "Park the issue, it is solved, great work",
    "May I say, excellent support",
    "Top marks, great support",
]:
    add(generic("common_word_names", T, text))
for who, text in [("william.turner", "Will Turner was great"), ("grace.kim", "Grace Kim made it painless"),
                  ("hope.adeyemi", "Ms Adeyemi was great"), ("frank.miller", "Mr Miller was very helpful"),
                  ("mark.evans", "Evans was very helpful")]:
    add(generic("common_word_names", e(who), text))

# 3g. praise for a team, not a person.
for text in ["The support team was fantastic", "Your engineers are brilliant", "Great job everyone!", "Best customer service ever",
             "You all were super helpful", "The onboarding team nailed it", "Thanks to the whole crew", "Excellent, fast, friendly",
             "Your billing people were great", "Kudos to support", "I love this product", "Very responsive team"]:
    add(generic("team_praise", T, text))

# 3h. people we do not employ, and more than one person.
for text in ["Peter from your team was great", "My colleague Hannah loved the training", "Thanks Olivia!", "Rahul was great",
             "Steve from onboarding was super", "Our CTO Beatrix is very happy"]:
    add(generic("unknown_name", T, text))
# near-misses: names close to an employee's (or to their nickname's formal name) but somebody else.
for text in ["Marie was great", "Carlos was great", "Danielle was wonderful", "Thomas from your partner agency was great",
             "Sonia was lovely", "Aaron was super helpful", "Annabel was kind", "Katarina was great", "Markus was fantastic",
             "Erik did a great job", "Guillaume was great", "Yuko was lovely"]:
    add(generic("unknown_name", T, text))
for text in ["Carla and Tom were both brilliant", "Thanks to Guillermo and Siobhan", "Erin, Yuki and Liam made this work",
             "Anna and Ana both helped"]:
    add(generic("several_people", T, text))

# 3h'. Teams ids and more explicit references from other sources.
for ident, who in [("teams:29:carla", "carla.diaz"), ("teams:29:yuki", "yuki.tanaka")]:
    add(generic("explicit_platform_id", e(who), "Thanks a lot!", agent={"id": ident}))
for who in ("erin.park", "benedikt.huber", "anna.berg", "tom.becker"):
    add(zendesk("explicit_email", e(who), "Great help", "4444", agent_email=e(who)))
# more typos and praise in longer texts.
for who, text in [
    ("benedikt.huber", "After two weeks of back and forth, Benedikt finally found the root cause. Brilliant."),
    ("aleksandr.petrov", "We were stuck with the webhook retries and Aleksandr showed us the setting. Thanks!"),
    ("priyanka.raman", "I was not expecting much, but Priyanka made my day with a clear answer."),
    ("siobhan.oneill", "Special thanks to Siobhan for her patience with our legacy setup."),
    ("guillermo.santos", "Guillermo Santos - legend."),
    ("mohammed.alfarsi", "Mohammad was excellent"),
    ("katherine.ng", "Ms Ng was fantastic"),
    ("yuki.tanaka", "Tanaka-san was very kind"),
]:
    add(generic("name_in_long_text", e(who), text))

# 3i. the customer's own name is not an employee mention.
add(generic("customer_name", e("guillermo.santos"), "Carla here from Globex: Guillermo was great", customer="Carla Jones"))
add(generic("customer_name", T, "Tom here, thanks for everything", customer="Tom Harris"))
add(generic("customer_name", e("siobhan.oneill"), "Hi, it's Erin. Siobhan sorted it!", customer="Erin Walsh"))

# 4. account owner when nobody is named.
for account, who, text in [("Acme Corp", "sofia.rossi", "The team was great"), ("acme corp", "sofia.rossi", "Loving it"),
                           ("Globex", "benedikt.huber", "Great renewal process"), ("Initech", "erin.park", "Very happy with you folks"),
                           ("Globex", "benedikt.huber", "Super responsive"), ("Initech", "erin.park", "Great quarter together")]:
    add(generic("account_owner", e(who), text, account=account))
add(generic("account_owner", e("tom.becker"), "Tom was amazing", account="Acme Corp"))  # the named person beats the owner
add(generic("account_owner", T, "Great team", account="Umbrella"))  # no owner configured
add(delighted("account_owner", e("sofia.rossi"), "Really happy", 10, company="Acme Corp"))
add(delighted("account_owner", e("benedikt.huber"), "", 9, company="Globex"))

# 5. not praise: stored, never relayed — whoever is named.
for text, score in [("Carla was rude", 1), ("Guillermo never called back", 2), ("Slow and unhelpful", 1), ("Tom closed my ticket without fixing it", 2),
                    ("Siobhan tried but it is still broken", 3), ("Meh", 3), ("Priyanka was ok I guess", 3), ("Terrible experience", 1)]:
    add(generic("negative", T, text, score=score))
for text, score in [("Erin was fine", 7), ("ok", 8), ("Yuki helped but the product is buggy", 5), ("Never again", 0), ("Average", 6)]:
    add(delighted("negative", T, text, score))
add(zendesk("negative", T, "Agent was dismissive", "1001", rating="Bad, I'm unsatisfied"))
add(intercom("negative", T, "Tom didn't understand my problem", "5501", rating=2))
for text in ["Carla was rude and unhelpful", "The worst support I have ever had", "Guillermo did not solve anything, awful"]:
    add(generic("negative", T, text, score=None, scale=None))
for who, text in [("carla.diaz", "Carla was absolutely wonderful, thank you"), ("guillermo.santos", "Guillermo is great, fantastic help")]:
    add(generic("text_only_praise", e(who), text, score=None, scale=None))

OUT.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
print(f"wrote {len(records)} records to {OUT.name}")

# A hold-out set, written after the router was tuned on the set above and never tuned against.
records = []
add = records.append
for who, text in [
    ("guillermo.santos", "Shout-out to Guillermo, he rebuilt our export in an afternoon"),
    ("siobhan.oneill", "siobhan o'neill deserves a raise"),
    ("katherine.ng", "Kathy was lovely on the phone"),
    ("aleksandr.petrov", "Alex Petrov explained the SDK perfectly"),
    ("priyanka.raman", "Thank you Priyanka!!!"),
    ("yuki.tanaka", "Yuki-san solved it"),
    ("benedikt.huber", "Benedikt Huber is the reason we renewed"),
    ("sofia.rossi", "Sofia Rossi, you are a star"),
    ("mohammed.alfarsi", "Mohammed Al-Farsi was patient and kind"),
    ("erin.park", "Erin answered at 2am. Incredible."),
    ("liam.obrien", "Cheers Liam"),
    ("dana.whitfield", "Dana Whitfield handled the escalation"),
    ("dan.wu", "Dan Wu fixed the DNS issue"),
    ("anna.berg", "Anna B. was great"),
    ("ana.lima", "Ana Lima was great"),
    ("robert.stone", "Robert Stone, thank you"),
    ("jose.ramirez", "Ramírez is a wizard"),
    ("tom.becker", "Tom B was super helpful"),
    ("carla.diaz", "Carla D. was great"),
    ("maria.chen", "Maria C was great"),
    ("william.turner", "Mr Turner was very professional"),
    ("grace.kim", "Ms Kim was wonderful"),
    ("mark.evans", "Mark Evans!"),
    ("guillermo.santos", "Guillerme was great"),
    ("priyanka.raman", "Priyanka R. went out of her way"),
]:
    add(generic("holdout_person", e(who), text))
for text in [
    "Maria is a star", "Thanks to Mark for the tip... and your whole team", "Chris was brilliant", "Great job, support squad",
    "Your team is amazing, especially the night shift", "Dan and Dana both helped", "Grace and speed, great job",
    "Will do business again, fantastic help", "Frankly the best support ever", "Sam from your sales team was great",
    "Marta was lovely", "Bobbie was great", "Thanks Ann", "Eric was very helpful", "Jo was nice",
]:
    add(generic("holdout_triage", T, text))
for text, score in [("Guillermo was slow to answer", 2), ("Siobhan was ok", 3), ("Not impressed with Tom", 1)]:
    add(generic("holdout_negative", T, text, score=score))
HOLDOUT = OUT.with_name("feedback_routing_holdout.jsonl")
HOLDOUT.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
print(f"wrote {len(records)} records to {HOLDOUT.name}")

# Collisions, written for issue 13: another pretend company (feedback_directory.COLLISION_PEOPLE) where
# first names are colleagues' nicknames or aliases, in several languages. A word that can mean two
# people is triage, whichever of them has it as their own name.
records = []


def c(case, expected, text, **kwargs):
    record = generic(case, expected, text, **kwargs)
    record["directory"] = "collisions"
    records.append(record)


for text in [
    "Thanks to Sam", "Sam was great", "sam sorted it out", "Sammy was lovely",  # Sam; Samantha and Samuel are called Sam/Sammy
    "Alex was fantastic", "Thanks Alex!", "Sasha fixed it in minutes",  # Alex; Alexander, Alexandra, Aleksandr are Alex/Sasha
    "Pepe was brilliant", "Paco was great", "PACO rocks",  # Pepe is José's diminutive; Paco is Francisco's
    "Hans was a star", "thanks hans!", "Billy was great", "Kate helped me a lot", "Kate was lovely",
    "Kit was super helpful",  # Kit Morgan, and Christopher Adler's configured alias
]:
    c("collision", T, text)
for who, text in [
    # own names: nobody else has them as a nickname, and a near spelling of a colleague is not a reading.
    ("samantha.reyes", "Samantha was great"), ("samuel.lindqvist", "Samuel saved the day"),
    ("alexander.brandt", "Alexander was great"), ("alexandra.novak", "Alexandra was great"),
    ("aleksandr.volkov", "Aleksandr explained it well"), ("jose.ramirez", "José fixed the integration"),
    ("jose.ramirez", "Jose was brilliant"), ("francisco.herrera", "Francisco was great"),
    ("johannes.weber", "Johannes was great"), ("william.turner", "William took the time to explain"),
    ("katarzyna.nowak", "Katarzyna was great"), ("christopher.adler", "Christopher was super helpful"),
    # full names settle a collision, with the nickname too.
    ("sam.okafor", "Sam Okafor was great"), ("samantha.reyes", "Sam Reyes was great"), ("alex.moreau", "Alex Moreau was great"),
    ("alexander.brandt", "Alex Brandt was great"), ("pepe.ortega", "Pepe Ortega was brilliant"), ("jose.ramirez", "Pepe Ramírez was brilliant"),
    ("paco.molina", "Paco Molina was great"), ("francisco.herrera", "Paco Herrera was great"), ("hans.mueller", "Hans Müller was a star"),
    ("johannes.weber", "Hans Weber was a star"), ("billy.cole", "Billy Cole was great"), ("william.turner", "Bill Turner was great"),
    ("kate.sullivan", "Kate Sullivan helped me a lot"), ("katarzyna.nowak", "Kate Nowak helped me a lot"), ("kit.morgan", "Kit Morgan was great"),
    # a diminutive only one person can have.
    ("katarzyna.nowak", "Kasia was great"), ("dmitri.sokolov", "Dima helped a lot"), ("ekaterina.ivanova", "Katya was lovely"),
    ("ignacio.vega", "Nacho was brilliant"), ("malgorzata.wisniewska", "Gosia sorted it out"), ("giuseppe.russo", "Beppe was great"),
    ("friedrich.vogel", "Fritz was super helpful"), ("mikhail.orlov", "Misha fixed it"), ("francisco.herrera", "Pancho was great"),
    ("johannes.weber", "Hannes was great"),  # a careful reader says Johannes; the matcher also reads Hans's sibling nickname
]:
    c("collision_resolved", e(who), text)
for text in ["Pepa was great", "Sandra was lovely", "Katja was great", "Hansi helped"]:  # near-misses: somebody else
    c("collision_unknown", T, text)
COLLISIONS = OUT.with_name("feedback_routing_collisions.jsonl")
COLLISIONS.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
print(f"wrote {len(records)} records to {COLLISIONS.name}")
