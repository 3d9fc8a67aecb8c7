"""Judging commands: ``raim campaign open|close|reopen``, ``raim judge add|revoke|link``,
``raim finalists show|confirm``.

The judging rooms (and scipy under them) are imported by each command as it runs, so that
`raim --help` stays quick.
``raim judge add`` and ``raim judge link`` print the judge's personal sign-in link as the last
word of their last line, so that scripts can take it with ``| tail -n1 | awk '{print $NF}'``.
Without a request to take the address from, links are built on RAIM_BASE_URL.
"""

from __future__ import annotations

import argparse

from app.commands.common import database, error
from scoring.scales import COMMON_SCALES


def register(sub: argparse._SubParsersAction) -> None:
    campaign = sub.add_parser("campaign", help="open or close a judges' campaign (rating, "
                              "best-k or pairwise)")
    actions = campaign.add_subparsers(dest="action", required=True)
    start = actions.add_parser(
        "open", help="open a judging campaign (rating, best-k or pairwise) on a closed "
        "unpaired phase",
        description="Judges each finalist's last accepted submission unless --submission says "
        "otherwise, by --protocol: rate every result (rating), pick the best --k of each image "
        "(best-k, counts mapped onto --band), or compare pairs chosen by active sampling "
        "(pairwise). The protocol and the method (model, normalisations, bootstrap) are stored "
        "with the campaign and printed.")
    start.add_argument("challenge", metavar="CHALLENGE", help="the challenge's slug")
    start.add_argument("phase", metavar="PHASE", help="the closed unpaired phase to judge")
    start.add_argument("--scale", default="1-10", help="rating scale LOW-HIGH (default 1-10)")
    start.add_argument("--criteria", action="store_true",
                       help="also score texture, noise, artefacts and fidelity")
    start.add_argument("--repeats", type=float, default=0.05,
                       help="share of images (pairwise: of pairs) shown twice, hidden, to "
                       "check consistency (0.05)")
    start.add_argument("--submission", action="append", default=[], metavar="TEAM=ID",
                       help="rate this submission of TEAM instead of its last one (repeatable)")
    # --protocol and --model are checked with the campaign (scoring/, slow to import, is
    # imported when the command runs, so that `raim --help` stays quick)
    start.add_argument("--protocol", default="rating",
                       help="how judges judge: rate every result (rating, the default), pick "
                       "the best k of each image (best-k), or compare pairs (pairwise)")
    start.add_argument("--k", type=int, default=None,
                       help="best-k: results picked per image (default 3)")
    start.add_argument("--band", type=_band, metavar="LOW-HIGH",
                       help="the organiser's band, e.g. 80-90: best-k maps its pick counts "
                       "linearly onto it, and the 'band' normalisation puts a phase's scores "
                       "on it (the best team gets HIGH, the worst LOW)")
    start.add_argument("--no-ties", action="store_true",
                       help="pairwise: judges must choose one result (no tie)")
    start.add_argument("--comparisons", type=int, default=None,
                       help="pairwise: pairs asked of each judge (default 60)")
    start.add_argument("--model", default=None,
                       help="the protocol's model: mos (mean of the ratings, the default) or mle "
                       "(maximum-likelihood scores with each judge's bias and spread) for "
                       "ratings; best-k; bradley-terry (default) or thurstone for pairwise")
    start.add_argument("--judge-normalisation", default="zscore", choices=("none", "zscore"),
                       help="ratings: rescale each judge's ratings before the model: zscore "
                       "(each judge's mean and spread made common, the default) or none")
    start.add_argument("--normalisation", default="minmax", type=_normalisation,
                       metavar="SCALE",
                       help="common scale of each phase's scores before the blend: "
                            f"{', '.join(COMMON_SCALES)} (default minmax), or one per phase "
                            "as objective=SCALE,subjective=SCALE")
    start.add_argument("--bootstrap", type=int, default=1000, help="bootstrap samples (1000)")
    start.set_defaults(handler=_campaign_open)
    stop = actions.add_parser(
        "close", help="close the open campaign of a phase and publish its results",
        description="Judges can no longer rate; the final ranking (objective and subjective "
        "blend, docs/judging.md) is computed and published, or the reason it is not is printed.")
    stop.add_argument("challenge", metavar="CHALLENGE", help="the challenge's slug")
    stop.add_argument("phase", metavar="PHASE", help="the phase whose campaign closes")
    stop.set_defaults(handler=_campaign_close)
    again = actions.add_parser(
        "reopen", help="open the phase's latest campaign again (ratings kept)",
        description="Judges carry on where they stopped; the published results stay as they are "
        "until the campaign closes again. A phase with published results takes no new campaign.")
    again.add_argument("challenge", metavar="CHALLENGE", help="the challenge's slug")
    again.add_argument("phase", metavar="PHASE", help="the phase whose campaign reopens")
    again.set_defaults(handler=_campaign_reopen)

    judge = sub.add_parser("judge", help="manage judges")
    judge_actions = judge.add_subparsers(dest="action", required=True)
    add = judge_actions.add_parser(
        "add", help="create a judge and print a personal sign-in link (last word, last line)")
    add.add_argument("name", metavar="NAME", help="judge name, unique in the challenge")
    add.add_argument("--challenge", required=True, metavar="SLUG", help="the challenge judged")
    add.add_argument("--email", help="use (or create) the account with this address; a member "
                     "of one of the challenge's teams cannot judge it")
    add.set_defaults(handler=_judge_add)
    revoke = judge_actions.add_parser(
        "revoke", help="withdraw a judge's access (links and sessions); their ratings are kept")
    revoke.add_argument("name", metavar="NAME", help="the judge's name")
    revoke.add_argument("--challenge", required=True, metavar="SLUG", help="the challenge judged")
    revoke.set_defaults(handler=_judge_revoke)
    link = judge_actions.add_parser(
        "link", help="issue a new sign-in link (last word, last line); earlier links stop working")
    link.add_argument("name", metavar="NAME", help="the judge's name")
    link.add_argument("--challenge", required=True, metavar="SLUG", help="the challenge judged")
    link.set_defaults(handler=_judge_link)

    finalists = sub.add_parser("finalists", help="show or confirm the finalists of a phase")
    finalist_actions = finalists.add_subparsers(dest="action", required=True)
    show = finalist_actions.add_parser(
        "show", help="list the finalists in force",
        description="Each finalist with its rank in the phase it qualified from, and whether "
        "the list is confirmed or only proposed (the phase's qualify_from/qualify_top).")
    show.add_argument("challenge", metavar="CHALLENGE", help="the challenge's slug")
    show.add_argument("phase", metavar="PHASE", help="the phase the finalists are for")
    show.set_defaults(handler=_finalists_show)
    confirm = finalist_actions.add_parser(
        "confirm", help="confirm the proposed finalists, or exactly the --team ones")
    confirm.add_argument("challenge", metavar="CHALLENGE", help="the challenge's slug")
    confirm.add_argument("phase", metavar="PHASE", help="the phase the finalists are for")
    confirm.add_argument("--team", action="append", metavar="NAME",
                         help="admit this team (repeatable); without it, the proposal")
    confirm.set_defaults(handler=_finalists_confirm)


def _chosen(pairs: list[str]) -> dict[str, int]:
    from app.judging.campaigns import CampaignError
    chosen = {}
    for pair in pairs:
        team, _, number = pair.rpartition("=")
        if not team or not number.isdigit():
            raise CampaignError(f"--submission {pair!r}: write it as TEAM=ID")
        chosen[team] = int(number)
    return chosen


def _normalisation(text: str) -> str | dict[str, str]:
    """``minmax`` or ``objective=none,subjective=band`` (checked with the campaign)."""
    if "=" not in text:
        return text
    try:
        return dict(part.split("=", 1) for part in text.split(","))  # type: ignore[misc]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: write SCALE or objective=SCALE,"
                                         "subjective=SCALE") from None


def _band(text: str) -> tuple[float, float]:
    from app.judging.campaigns import CampaignError, parse_band
    try:
        return parse_band(text)
    except CampaignError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _method(args: argparse.Namespace) -> dict:
    method = {"normalisation": args.normalisation, "bootstrap_samples": args.bootstrap}
    if args.protocol == "rating":
        method.update(model=args.model or "mos", judge_normalisation=args.judge_normalisation)
    elif args.model is not None:
        method["model"] = args.model
    return method


def _campaign_open(args: argparse.Namespace) -> int:
    from app.errors import ApiError
    from app.judging.campaigns import CampaignError, CampaignOptions, open_campaign, parse_scale
    from app.lookups import find_phase
    try:
        options = CampaignOptions(
            scale=parse_scale(args.scale), criteria=args.criteria, repeat_share=args.repeats,
            submissions=_chosen(args.submission), method=_method(args),
            protocol=args.protocol, k=args.k,
            band=tuple(args.band) if args.band else None,
            ties=False if args.no_ties else None, comparisons=args.comparisons)
        with database() as session:
            campaign = open_campaign(session, find_phase(session, args.challenge, args.phase),
                                     options, actor=None)
            for entry in campaign.entries:
                print(f"{entry.team.name}: submission {entry.submission_id}")
            print(f"campaign {campaign.id} open on {args.challenge}/{args.phase}: "
                  f"{len(campaign.entries)} finalists, scale {args.scale}")
            print("method recorded: " + ", ".join(f"{key} {value}" for key, value
                                                  in sorted((campaign.method or {}).items())))
            if campaign.protocol != "rating":
                print(f"protocol {campaign.protocol}: " + ", ".join(
                    f"{key} {value}" for key, value in campaign.protocol_options.items())
                    + (f", band {campaign.method['band'][0]:g}-{campaign.method['band'][1]:g}"
                       if campaign.method.get("band") else ""))
    except (CampaignError, ApiError) as exc:
        return error(str(exc))
    return 0


def _campaign_close(args: argparse.Namespace) -> int:
    from app.errors import ApiError
    from app.judging import results
    from app.judging.campaigns import CampaignError, open_campaign_of
    from app.lookups import find_phase
    try:
        with database() as session:
            campaign = open_campaign_of(session, find_phase(session, args.challenge, args.phase))
            if campaign is None:
                return error(f"phase {args.phase} has no open campaign")
            closed = results.close(session, campaign, actor=None)
    except (CampaignError, ApiError) as exc:
        return error(str(exc))
    print(f"campaign closed on {args.challenge}/{args.phase}; "
          + ("final results published" if closed.published
             else f"no results published: {closed.reason}"))
    return 0


def _campaign_reopen(args: argparse.Namespace) -> int:
    from app.errors import ApiError
    from app.judging.campaigns import CampaignError, reopen_campaign
    from app.lookups import find_phase
    try:
        with database() as session:
            campaign = reopen_campaign(session, find_phase(session, args.challenge, args.phase),
                                       actor=None)
            number = campaign.id
    except (CampaignError, ApiError) as exc:
        return error(str(exc))
    print(f"campaign {number} reopened on {args.challenge}/{args.phase}; ratings kept, "
          f"published results unchanged until it closes again")
    return 0


def _judge_add(args: argparse.Namespace) -> int:
    from app.accounts import AccountError
    from app.errors import ApiError
    from app.judging.campaigns import CampaignError, add_judge, sign_in_link
    from app.lookups import find_challenge
    try:
        with database() as session:
            judge, token = add_judge(session, find_challenge(session, args.challenge), args.name,
                                     email=args.email)
            name = judge.name
    except (CampaignError, AccountError, ApiError) as exc:
        return error(str(exc))
    print(f"judge {name!r} added to {args.challenge}; personal sign-in link (keep it private):")
    print(sign_in_link(token))
    return 0


def _judge_revoke(args: argparse.Namespace) -> int:
    from app.errors import ApiError
    from app.judging.campaigns import CampaignError, find_judge, revoke_judge
    from app.lookups import find_challenge
    try:
        with database() as session:
            judge = find_judge(session, find_challenge(session, args.challenge), args.name)
            revoke_judge(session, judge, actor=None)
    except (CampaignError, ApiError) as exc:
        return error(str(exc))
    print(f"judge {args.name.strip()!r} revoked in {args.challenge}: their links no longer "
          f"work; their ratings are kept")
    return 0


def _judge_link(args: argparse.Namespace) -> int:
    from app.errors import ApiError
    from app.judging.campaigns import CampaignError, find_judge, new_link, sign_in_link
    from app.lookups import find_challenge
    try:
        with database() as session:
            judge = find_judge(session, find_challenge(session, args.challenge), args.name)
            token = new_link(session, judge, actor=None)
    except (CampaignError, ApiError) as exc:
        return error(str(exc))
    print(f"new sign-in link for judge {args.name.strip()!r} (earlier links no longer work):")
    print(sign_in_link(token))
    return 0


def _finalists_show(args: argparse.Namespace) -> int:
    from app.errors import ApiError
    from app.judging import qualification
    from app.judging.campaigns import CampaignError
    from app.lookups import find_phase
    try:
        with database(writes=False) as session:
            phase = find_phase(session, args.challenge, args.phase)
            listed = qualification.qualifiers(session, phase)
            state = "confirmed" if qualification.confirmed(session, phase) else "proposed"
    except (CampaignError, ApiError) as exc:
        return error(str(exc))
    for q in listed:
        print(f"{q.source_rank or '-':>3}  {q.team}  ({q.source})")
    print(f"{len(listed)} finalist(s), {state}")
    return 0


def _finalists_confirm(args: argparse.Namespace) -> int:
    from app.errors import ApiError
    from app.judging import qualification
    from app.judging.campaigns import CampaignError
    from app.judging.qualification import QualificationError
    from app.lookups import find_phase
    try:
        with database() as session:
            phase = find_phase(session, args.challenge, args.phase)
            listed = qualification.confirm(session, phase, args.team, actor=None)
            names = [q.team for q in listed]
    except (CampaignError, QualificationError, ApiError) as exc:
        return error(str(exc))
    print(f"{len(names)} finalist(s) confirmed: {', '.join(names)}")
    return 0
