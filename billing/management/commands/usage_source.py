import json

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from billing.ingest.sources import SourceError, line_identifier_add, usage_source_save
from billing.models import Line, LineIdentifier, Organization, UsageSource


class Command(BaseCommand):
    help = (
        "Declare and list usage sources (the phone systems that send call records) and the identifiers "
        "(extensions, SIP users, DIDs, account codes) of an organization's lines in them."
    )

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        add = sub.add_parser(
            "add", help="Declare a usage source, or change the one with this slug (only the options given change)"
        )
        add.add_argument("slug")
        add.add_argument("--organization", required=True, metavar="ACCOUNT", help="Account number")
        add.add_argument("--name")
        add.add_argument("--format", choices=UsageSource.Format.values, help="Required for a new source")
        add.add_argument("--clock", help="UTC (Asterisk usegmtime=yes; the default) or the PBX's IANA zone")
        add.add_argument("--time-format", choices=UsageSource.TimeFormat.values, help="default: text")
        add.add_argument("--clock-check", choices=UsageSource.ClockCheck.values, help="default: refuse")
        add.add_argument("--columns", help='custom/header mapping as JSON, e.g. \'{"src": 2, "dst": 3}\'')
        add.add_argument(
            "--match-by",
            help="in order, of number, extension, channel, account_code (default: number,extension,channel)",
        )
        add.add_argument("--outside-prefix")
        add.add_argument("--international-prefix")
        add.add_argument("--national-prefix")
        add.add_argument("--extension-lengths", help="e.g. 3,4")
        add.add_argument("--inactive", action="store_true", help="Its drop folder is no longer swept")
        sub.add_parser("list", help="List the usage sources")
        ident = sub.add_parser("identify", help="Give a line an identifier in the organization's phone system")
        ident.add_argument("line", metavar="NUMBER", help="The line's E.164 number")
        ident.add_argument("--kind", required=True, choices=LineIdentifier.Kind.values)
        ident.add_argument("--value", required=True)
        ident.add_argument("--since", help="ISO date and time from which it holds (default: now)")
        ident.add_argument("--until", help="ISO date and time until which it holds (exclusive)")
        show = sub.add_parser("identifiers", help="List the identifiers of an organization's lines")
        show.add_argument("--organization", required=True, metavar="ACCOUNT")

    def handle(self, *args, action, **options):
        getattr(self, f"_{action}")(**options)

    def _organization(self, account):
        try:
            return Organization.objects.get(account_number=account)
        except Organization.DoesNotExist:
            raise CommandError(f"no organization with account number {account}") from None

    SETTINGS = ("name", "format", "clock", "time_format", "clock_check", "match_by", "outside_prefix",
                "international_prefix", "national_prefix", "extension_lengths")  # fmt: skip

    def _add(self, *, slug, organization, columns, inactive, **options):
        org = self._organization(organization)
        settings = {key: options[key] for key in self.SETTINGS if options.get(key) is not None}
        if columns is not None:
            try:
                settings["columns"] = json.loads(columns)
            except json.JSONDecodeError as exc:
                raise CommandError(f"--columns is not JSON: {exc}") from None
        if inactive:
            settings["active"] = False
        if "format" not in settings and not UsageSource.objects.filter(slug=slug).exists():
            raise CommandError(f"--format is required to declare the new usage source {slug}")
        try:
            source = usage_source_save(organization=org, slug=slug, **settings)
        except SourceError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"usage source {source.slug} ({source.get_format_display()}) of {org.name}: drop folder "
                          f"USAGE_DROP_DIR/{source.slug}/, clock {source.clock}, matched by {source.match_by}"
                          f"{'' if source.active else ', inactive'}")  # fmt: skip

    def _list(self, **options):
        for s in UsageSource.objects.select_related("organization"):
            self.stdout.write(
                f"{s.slug}\t{s.organization.account_number}\t{s.format}\tclock {s.clock} ({s.time_format})\t"
                f"match {s.match_by}\t{'active' if s.active else 'inactive'}"
            )

    def _parse_time(self, text, option):
        from datetime import datetime

        if not text:
            return None
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            raise CommandError(f"{option} '{text}' is not an ISO date and time") from None
        return value if value.tzinfo else timezone.make_aware(value)

    def _identify(self, *, line, kind, value, since, until, **options):
        try:
            found = Line.objects.select_related("organization").get(number=line)
        except Line.DoesNotExist:
            raise CommandError(f"no line {line}") from None
        start = self._parse_time(since, "--since") or timezone.now()
        end = self._parse_time(until, "--until")
        try:
            line_identifier_add(line=found, kind=kind, value=value, valid_from=start, valid_to=end)
        except SourceError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"{found.number}: {kind} {value} from {start:%Y-%m-%d %H:%M %Z}")

    def _identifiers(self, *, organization, **options):
        org = self._organization(organization)
        for i in LineIdentifier.objects.filter(organization=org).select_related("line").order_by("kind", "value"):
            until = f" until {i.valid_to:%Y-%m-%d %H:%M}" if i.valid_to else ""
            self.stdout.write(f"{i.kind}\t{i.value}\t{i.line.number}\tfrom {i.valid_from:%Y-%m-%d %H:%M}{until}")
