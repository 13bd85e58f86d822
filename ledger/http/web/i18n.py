"""Every word the pages show, in Norwegian bokmål (the default) and English.

One dict per language with the same keys (tests/web/test_i18n.py checks that, and
that every key a template uses exists). A missing key raises `MissingText` while
rendering, so it fails a test instead of showing a raw key to a user.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, Literal

Language = Literal["nb", "en"]
LANGUAGES: Final[tuple[Language, ...]] = ("nb", "en")
DEFAULT_LANGUAGE: Final[Language] = "nb"


class MissingText(KeyError):
    """A page asked for a string key that a language does not have."""


NB: Final[Mapping[str, str]] = {
    "app.name": "Bruksregnskap",
    "app.tagline": "Betal for faktisk bruk av digitale læremidler",
    "nav.finance": "Økonomi",
    "nav.vendor": "Leverandør",
    "nav.auditor": "Revisjon",
    "nav.skip": "Hopp til innholdet",
    "lang.switch": "English",
    "lang.switch_code": "en",
    "session.signed_in_as": "Logget inn som",
    "session.sign_out": "Logg ut",
    "scope.vendor": "leverandør",
    "scope.municipality": "kommune",
    "scope.auditor": "revisor",
    "scope.admin": "administrator",
    "home.title": "Logg inn",
    "home.intro": "Kommunene betaler leverandørene av digitale læremidler for faktisk bruk. "
    "Her ser hver part sine egne tall.",
    "home.kinds": "Tre slags brukere",
    "home.kind.municipality": "Kommune (økonomi og skoleeier)",
    "home.kind.municipality.text": "Forbruk så langt i måneden mot tak og budsjett, bruk per "
    "skole og produkt, og oppgjørene som nedlastbare filer.",
    "home.kind.vendor": "Leverandør",
    "home.kind.vendor.text": "Mottatte, godtatte, doble og avviste hendelser per dag, avviste "
    "hendelser som må rettes, og hva hver kommune skal betale.",
    "home.kind.auditor": "Revisor",
    "home.kind.auditor.text": "Kontroll av hele regnskapet, kjedehoder, oppgjør med "
    "sjekksummer, og sporing av en oppgjørslinje til hendelsene bak den.",
    "home.token": "Tilgangsnøkkel",
    "home.token.help": "Nøkkelen du fikk fra «ledger tokens create» (begynner med lk_).",
    "home.sign_in": "Logg inn",
    "home.bad_token": "Nøkkelen er ikke gyldig (ukjent, utløpt eller trukket tilbake). "
    "Sjekk at du limte inn hele nøkkelen.",
    "home.signed_in": "Du er logget inn.",
    "home.go_to": "Gå til siden din",
    "error.title": "Ingen tilgang",
    "error.forbidden": "Denne siden er ikke for din rolle.",
    "error.not_found": "Fant ikke det du spurte etter, eller det er ikke ditt.",
    "error.bad_request": "Forespørselen kunne ikke leses.",
    "error.no_invoice": "Dette oppgjøret har ingen linjer (bare bruk uten lisens), "
    "så det finnes ingen e-faktura. Last det ned som JSON eller CSV.",
    "error.unauthorized": "Logg inn, eller send Authorization: Bearer med en gyldig nøkkel.",
    "error.bad_origin": "Skjemaet kom ikke fra denne siden. Last siden på nytt og prøv igjen.",
    "error.rate_limited": "For mange forespørsler. Vent litt og prøv igjen.",
    "error.back": "Tilbake til forsiden",
    "finance.title": "Økonomi",
    "finance.month.settled": "gjort opp",
    "finance.month.open": "åpen",
    "finance.period_settled": "Måneden er gjort opp: beløpene er oppgjørenes.",
    "finance.period_open": "Måneden er åpen: beløpene er så langt i måneden, med prognose "
    "til månedsslutt.",
    "finance.no_catalogue": "Ingen katalog er lastet ennå, så det finnes ingen lisenser å vise. "
    "Last den med «ledger catalogue load FIL».",
    "finance.unknown_municipality": "Kommunen til nøkkelen finnes ikke i katalogen.",
    "finance.bad_period": "Måneden må skrives ÅÅÅÅ-MM, for eksempel 2026-10.",
    "finance.headline": "Måneden i korte trekk",
    "finance.total.settled": "Gjort opp (uten mva.)",
    "finance.total.so_far": "Brukt så langt",
    "finance.adjustments_total": "Etterberegninger",
    "finance.invoiced": "Fakturert i alt (uten mva.)",
    "finance.forecast": "Prognose for måneden",
    "finance.school_days": "Skoledager",
    "finance.school_days.of": "{elapsed} av {total} skoledager",
    "finance.excl_vat": "Alle beløp er uten mva.",
    "finance.forecast.help": "Prognosen regner videre fra bruken så langt over de {left} "
    "skoledagene som er igjen (Oslo-kalenderen: uten helger og skoleferier).",
    "finance.warnings": "Varsler",
    "finance.warning.cap": "Prognosen for {licence} når månedstaket: {amount} ved "
    "månedsslutt, taket er {cap}.",
    "finance.warning.cap_reached": "{licence} nådde månedstaket på {cap}, så beløpet ble "
    "begrenset.",
    "finance.warning.budget": "Prognosen for {licence} er {amount}, over budsjettet på {budget}.",
    "finance.warning.budget_exceeded": "{licence} kostet {amount}, over budsjettet på {budget}.",
    "finance.warning_tag.forecast_reaches_cap": "Når taket",
    "finance.warning_tag.forecast_exceeds_budget": "Over budsjett",
    "finance.cap_applied": "Tak brukt",
    "finance.licences": "Forbruk per leverandør og lisens",
    "finance.licences.caption": "Beløp mot tak, budsjett og forrige måned",
    "finance.licences.help": "Månedstaket gjelder hele lisensen; for en felleslisens er "
    "beløpet kommunens andel. Budsjett settes per lisens med «ledger budget set».",
    "finance.licences.none": "Kommunen har ingen lisenser denne måneden.",
    "finance.col.settled": "Gjort opp",
    "finance.col.so_far": "Så langt",
    "finance.joint": "Felleslisens",
    "finance.joint.total": "hele lisensen så langt: {amount}",
    "finance.chart.settled": "Gjort opp",
    "finance.chart.so_far": "Så langt",
    "finance.chart.licences": "Forbruk per lisens mot tak, budsjett og forrige måned",
    "finance.chart.licences.desc": "Liggende søyler per lisens, største først: beløpet, "
    "prognosen i en åpen måned, månedstaket (ikke for felleslisenser), budsjettet og forrige "
    "måned. Tallene står i tabellen under.",
    "finance.chart.schools": "Hendelser per skole",
    "finance.chart.schools.desc": "Liggende søyler for skolene med flest hendelser, alle "
    "produkter samlet. Tallene per produkt står i tabellen under.",
    "finance.value": "Valuta for pengene",
    "finance.value.help": "Kostnad per aktiv elev per lisens. «Lite brukt» betyr at under "
    "{percent} % av elevene lisensen dekker har brukt den denne måneden, selv om kommunen "
    "betaler for den: verdt å ta opp før lisensen fornyes.",
    "finance.little_used": "Lite brukt",
    "finance.used": "I bruk",
    "finance.unused": "Ikke brukt",
    "finance.none_set": "ikke satt",
    "finance.schools": "Bruk per skole og produkt",
    "finance.schools.caption": "Hendelser og aktive elever, største først",
    "finance.schools.largest": "de {shown} største",
    "finance.schools.none": "Ingen bruk denne måneden.",
    "finance.unlicensed": "Bruk uten lisens",
    "finance.unlicensed.help": "Produkter brukt ved kommunens skoler uten at kommunen har "
    "lisens for dem. Bruken faktureres ikke, men bør avklares med innkjøp (anskaffelser).",
    "finance.unlicensed.none": "Ingen bruk uten lisens denne måneden.",
    "finance.events": "hendelser",
    "finance.more_rows": "Vis {count} rader til",
    "finance.unlicensed.caption": "Hendelser og elever per produkt og skole, største først",
    "finance.adjustments": "Etterberegninger for sene hendelser",
    "finance.adjustments.none": "Ingen etterberegninger i denne månedens oppgjør.",
    "finance.adjustments.open": "Etterberegninger for tidligere måneder kommer med oppgjøret "
    "når måneden er over.",
    "finance.adjustment.one.up": "{count} sen hendelse fra {month} økte {licence} med {amount}",
    "finance.adjustment.many.up": "{count} sene hendelser fra {month} økte {licence} med {amount}",
    "finance.adjustment.one.down": "{count} sen hendelse fra {month} reduserte {licence} med "
    "{amount}",
    "finance.adjustment.many.down": "{count} sene hendelser fra {month} reduserte {licence} "
    "med {amount}",
    "finance.adjustment.shared.up": "Sene hendelser fra {month} hos de andre kjøperne av "
    "felleslisensen økte kommunens andel av {licence} med {amount}",
    "finance.adjustment.shared.down": "Sene hendelser fra {month} hos de andre kjøperne av "
    "felleslisensen reduserte kommunens andel av {licence} med {amount}",
    "finance.adjustment.quantity": "mengde {change}",
    "finance.downloads": "Oppgjør til nedlasting",
    "finance.downloads.none": "Ingen oppgjør ennå.",
    "metric.active_learners": "aktive elever",
    "metric.units": "enheter",
    "metric.fixed_per_pupil": "fast per elev",
    "col.forecast": "Prognose",
    "col.cap": "Tak",
    "col.budget": "Budsjett",
    "col.last_month": "Forrige måned",
    "col.warnings": "Varsler",
    "col.active_pupils": "Aktive elever",
    "col.pupils_covered": "Elever dekket",
    "col.active_share": "Andel aktive",
    "col.cost_per_pupil": "Per aktiv elev",
    "col.use": "Bruk",
    "col.product": "Produkt",
    "col.events": "Hendelser",
    "col.pupils": "Elever",
    "month.label": "Måned",
    "month.show": "Vis",
    "vendor.title": "Leverandør",
    "vendor.period_open": "Måneden er åpen: beløpene er så langt i måneden.",
    "vendor.period_settled": "Måneden er gjort opp.",
    "vendor.days": "Hendelser per dag",
    "vendor.days.chart": "Hendelser per dag etter utfall",
    "vendor.days.desc": "Stablede søyler per dag (bruksdag, norsk tid): godtatt, uten "
    "lisens, doble og avviste etter årsak. Tallene står i tabellen under.",
    "vendor.totals": "Måneden samlet",
    "vendor.rejections": "Avviste hendelser som må rettes",
    "vendor.rejections.none": "Ingen avviste hendelser siden månedens start.",
    "vendor.rejections.next": "Neste side",
    "vendor.settlements": "Hva kommunene skal betale",
    "vendor.settlements.none": "Ingen oppgjør for denne måneden.",
    "vendor.to_date": "Så langt i måneden (ikke gjort opp, uten mva.)",
    "vendor.to_date.none": "Ingen bruk med lisens så langt i måneden.",
    "auditor.title": "Revisjon",
    "auditor.verify": "Kontroll av regnskapet",
    "auditor.verify.never": "Ingen kontroll er kjørt siden serveren startet.",
    "auditor.verify.ok": "Alt stemmer",
    "auditor.verify.damaged": "Skade funnet",
    "auditor.verify.run": "Kjør kontroll nå",
    "auditor.verify.running": "En kontroll kjører allerede. Prøv igjen om litt.",
    "auditor.verify.first_damage": "Første skade",
    "auditor.verify.finished": "Ferdig",
    "auditor.verify.seconds": "Sekunder",
    "auditor.heads": "Kjedehoder",
    "auditor.heads.none": "Regnskapet er tomt.",
    "auditor.settlements": "Oppgjør",
    "auditor.settlements.none": "Ingen oppgjør for denne måneden.",
    "auditor.trace": "Spor",
    "trace.title": "Sporing av oppgjørslinje",
    "trace.events_total": "Hendelser i alt",
    "trace.counted": "Telt",
    "trace.absorbed": "Nei (dobbeltklikk innen 30 sekunder)",
    "trace.next": "Neste side",
    "trace.previous": "Forrige side",
    "trace.line": "Linje",
    "trace.lines": "Linjer",
    "col.day": "Dag",
    "col.received": "Mottatt",
    "col.accepted": "Godtatt",
    "col.unlicensed": "Uten lisens",
    "col.duplicates": "Doble",
    "col.rejected": "Avvist",
    "col.event_id": "Hendelses-ID",
    "col.reason": "Årsak",
    "col.detail": "Detalj",
    "col.explanation": "Hva som må rettes",
    "col.when": "Mottatt",
    "col.municipality": "Kommune",
    "col.vendor": "Leverandør",
    "col.period": "Måned",
    "col.subtotal": "Sum uten mva.",
    "col.vat": "Mva.",
    "col.total": "Å betale",
    "col.amount": "Beløp",
    "col.licence": "Lisens",
    "col.metric": "Mål",
    "col.quantity": "Mengde",
    "col.downloads": "Last ned",
    "col.digest": "Sjekksum",
    "col.chain": "Kjede",
    "col.seq": "Løpenummer",
    "col.hash": "Hash",
    "col.entries_checked": "Poster kontrollert",
    "col.settlements_checked": "Oppgjør kontrollert",
    "col.status": "Status",
    "col.school": "Skole",
    "col.occurred_at": "Tidspunkt",
    "col.usage_period": "Bruksmåned",
    "col.adjustment": "Etterberegning",
    "col.lines": "Linjer",
    "col.issue_date": "Utstedt",
    "yes": "Ja",
    "no": "Nei",
    "total": "Sum",
}

EN: Final[Mapping[str, str]] = {
    "app.name": "Usage ledger",
    "app.tagline": "Pay for the real use of digital learning materials",
    "nav.finance": "Finance",
    "nav.vendor": "Vendor",
    "nav.auditor": "Audit",
    "nav.skip": "Skip to content",
    "lang.switch": "Norsk",
    "lang.switch_code": "nb",
    "session.signed_in_as": "Signed in as",
    "session.sign_out": "Sign out",
    "scope.vendor": "vendor",
    "scope.municipality": "municipality",
    "scope.auditor": "auditor",
    "scope.admin": "administrator",
    "home.title": "Sign in",
    "home.intro": "Municipalities pay the vendors of digital learning materials for real use. "
    "Here each party sees its own numbers.",
    "home.kinds": "Three kinds of user",
    "home.kind.municipality": "Municipality (finance and school owner)",
    "home.kind.municipality.text": "Spend so far this month against caps and budgets, use per "
    "school and product, and the settlements as downloadable files.",
    "home.kind.vendor": "Vendor",
    "home.kind.vendor.text": "Events received, accepted, duplicates and rejected per day, the "
    "rejected events to correct, and what each municipality will pay.",
    "home.kind.auditor": "Auditor",
    "home.kind.auditor.text": "Verification of the whole ledger, chain heads, settlements with "
    "their digests, and tracing a settlement line to the events behind it.",
    "home.token": "Access token",
    "home.token.help": "The token you got from “ledger tokens create” (it starts with lk_).",
    "home.sign_in": "Sign in",
    "home.bad_token": "The token is not valid (unknown, expired or revoked). "
    "Check that you pasted the whole token.",
    "home.signed_in": "You are signed in.",
    "home.go_to": "Go to your page",
    "error.title": "No access",
    "error.forbidden": "This page is not for your role.",
    "error.not_found": "Nothing found, or it is not yours.",
    "error.bad_request": "The request could not be read.",
    "error.no_invoice": "This settlement has no lines (only unlicensed use), "
    "so there is no e-invoice. Download it as JSON or CSV.",
    "error.unauthorized": "Sign in, or send Authorization: Bearer with a valid token.",
    "error.bad_origin": "The form did not come from this site. Reload the page and try again.",
    "error.rate_limited": "Too many requests. Wait a moment and try again.",
    "error.back": "Back to the front page",
    "finance.title": "Finance",
    "finance.month.settled": "settled",
    "finance.month.open": "open",
    "finance.period_settled": "The month has been settled: the amounts are the settlements'.",
    "finance.period_open": "The month is open: amounts are so far this month, with a forecast "
    "to month end.",
    "finance.no_catalogue": "No catalogue has been loaded yet, so there are no licences to "
    "show. Load one with “ledger catalogue load FILE”.",
    "finance.unknown_municipality": "The token's municipality is not in the catalogue.",
    "finance.bad_period": "Write the month as YYYY-MM, for example 2026-10.",
    "finance.headline": "The month at a glance",
    "finance.total.settled": "Settled (excl. VAT)",
    "finance.total.so_far": "Spent so far",
    "finance.adjustments_total": "Adjustments",
    "finance.invoiced": "Invoiced in all (excl. VAT)",
    "finance.forecast": "Forecast for the month",
    "finance.school_days": "School days",
    "finance.school_days.of": "{elapsed} of {total} school days",
    "finance.excl_vat": "All amounts exclude VAT.",
    "finance.forecast.help": "The forecast carries the use so far over the {left} school "
    "days left (Oslo's calendar: no weekends or school holidays).",
    "finance.warnings": "Warnings",
    "finance.warning.cap": "The forecast for {licence} reaches its monthly cap: {amount} by "
    "month end, the cap is {cap}.",
    "finance.warning.cap_reached": "{licence} reached its monthly cap of {cap}, so the amount "
    "was capped.",
    "finance.warning.budget": "The forecast for {licence} is {amount}, over the budget of "
    "{budget}.",
    "finance.warning.budget_exceeded": "{licence} cost {amount}, over the budget of {budget}.",
    "finance.warning_tag.forecast_reaches_cap": "Reaches cap",
    "finance.warning_tag.forecast_exceeds_budget": "Over budget",
    "finance.cap_applied": "Cap applied",
    "finance.licences": "Spend per vendor and licence",
    "finance.licences.caption": "Amounts against cap, budget and last month",
    "finance.licences.help": "The monthly cap is on the whole licence; for a joint licence the "
    "amount is this municipality's share. Budgets are set per licence with “ledger budget set”.",
    "finance.licences.none": "The municipality has no licences this month.",
    "finance.col.settled": "Settled",
    "finance.col.so_far": "So far",
    "finance.joint": "Joint licence",
    "finance.joint.total": "whole licence so far: {amount}",
    "finance.chart.settled": "Settled",
    "finance.chart.so_far": "So far",
    "finance.chart.licences": "Spend per licence against cap, budget and last month",
    "finance.chart.licences.desc": "Horizontal bars per licence, largest first: the amount, "
    "the forecast in an open month, the monthly cap (not for joint licences), the budget and "
    "last month. The numbers are in the table below.",
    "finance.chart.schools": "Events per school",
    "finance.chart.schools.desc": "Horizontal bars for the schools with the most events, all "
    "products together. The numbers per product are in the table below.",
    "finance.value": "Value for money",
    "finance.value.help": "Cost per active pupil per licence. “Little used” means fewer than "
    "{percent}% of the pupils the licence covers used it this month, though the municipality "
    "pays for it: worth raising before the licence is renewed.",
    "finance.little_used": "Little used",
    "finance.used": "In use",
    "finance.unused": "Not used",
    "finance.none_set": "not set",
    "finance.schools": "Use per school and product",
    "finance.schools.caption": "Events and active pupils, largest first",
    "finance.schools.largest": "the {shown} largest",
    "finance.schools.none": "No use this month.",
    "finance.unlicensed": "Unlicensed use",
    "finance.unlicensed.help": "Products used at the municipality's schools without a licence. "
    "This use is not billed, but procurement should look into it (procurement compliance).",
    "finance.unlicensed.none": "No unlicensed use this month.",
    "finance.events": "events",
    "finance.more_rows": "Show {count} more rows",
    "finance.unlicensed.caption": "Events and pupils per product and school, largest first",
    "finance.adjustments": "Adjustments for late events",
    "finance.adjustments.none": "No adjustments in this month's settlements.",
    "finance.adjustments.open": "Adjustments for earlier months come with the settlement when "
    "the month is over.",
    "finance.adjustment.one.up": "{count} late event from {month} raised {licence} by {amount}",
    "finance.adjustment.many.up": "{count} late events from {month} raised {licence} by {amount}",
    "finance.adjustment.one.down": "{count} late event from {month} lowered {licence} by {amount}",
    "finance.adjustment.many.down": "{count} late events from {month} lowered {licence} by "
    "{amount}",
    "finance.adjustment.shared.up": "Late events from {month} at the joint licence's other "
    "buyers raised this municipality's share of {licence} by {amount}",
    "finance.adjustment.shared.down": "Late events from {month} at the joint licence's other "
    "buyers lowered this municipality's share of {licence} by {amount}",
    "finance.adjustment.quantity": "quantity {change}",
    "finance.downloads": "Settlements to download",
    "finance.downloads.none": "No settlements yet.",
    "metric.active_learners": "active learners",
    "metric.units": "units",
    "metric.fixed_per_pupil": "fixed per pupil",
    "col.forecast": "Forecast",
    "col.cap": "Cap",
    "col.budget": "Budget",
    "col.last_month": "Last month",
    "col.warnings": "Warnings",
    "col.active_pupils": "Active pupils",
    "col.pupils_covered": "Pupils covered",
    "col.active_share": "Share active",
    "col.cost_per_pupil": "Per active pupil",
    "col.use": "Use",
    "col.product": "Product",
    "col.events": "Events",
    "col.pupils": "Pupils",
    "month.label": "Month",
    "month.show": "Show",
    "vendor.title": "Vendor",
    "vendor.period_open": "The month is open: amounts are so far this month.",
    "vendor.period_settled": "The month has been settled.",
    "vendor.days": "Events per day",
    "vendor.days.chart": "Events per day by outcome",
    "vendor.days.desc": "Stacked bars per day (day of use, Oslo time): accepted, unlicensed, "
    "duplicates and rejected by reason. The numbers are in the table below.",
    "vendor.totals": "The month in total",
    "vendor.rejections": "Rejected events to correct",
    "vendor.rejections.none": "No rejected events since the month began.",
    "vendor.rejections.next": "Next page",
    "vendor.settlements": "What the municipalities will pay",
    "vendor.settlements.none": "No settlements for this month.",
    "vendor.to_date": "So far this month (not settled, excl. VAT)",
    "vendor.to_date.none": "No licensed use so far this month.",
    "auditor.title": "Audit",
    "auditor.verify": "Verification of the ledger",
    "auditor.verify.never": "No verification has run since the server started.",
    "auditor.verify.ok": "Intact",
    "auditor.verify.damaged": "Damage found",
    "auditor.verify.run": "Verify now",
    "auditor.verify.running": "A verification is already running. Try again shortly.",
    "auditor.verify.first_damage": "First damage",
    "auditor.verify.finished": "Finished",
    "auditor.verify.seconds": "Seconds",
    "auditor.heads": "Chain heads",
    "auditor.heads.none": "The ledger is empty.",
    "auditor.settlements": "Settlements",
    "auditor.settlements.none": "No settlements for this month.",
    "auditor.trace": "Trace",
    "trace.title": "Tracing a settlement line",
    "trace.events_total": "Events in all",
    "trace.counted": "Counted",
    "trace.absorbed": "No (double click within 30 seconds)",
    "trace.next": "Next page",
    "trace.previous": "Previous page",
    "trace.line": "Line",
    "trace.lines": "Lines",
    "col.day": "Day",
    "col.received": "Received",
    "col.accepted": "Accepted",
    "col.unlicensed": "Unlicensed",
    "col.duplicates": "Duplicates",
    "col.rejected": "Rejected",
    "col.event_id": "Event id",
    "col.reason": "Reason",
    "col.detail": "Detail",
    "col.explanation": "What to fix",
    "col.when": "Received",
    "col.municipality": "Municipality",
    "col.vendor": "Vendor",
    "col.period": "Month",
    "col.subtotal": "Subtotal",
    "col.vat": "VAT",
    "col.total": "Total",
    "col.amount": "Amount",
    "col.licence": "Licence",
    "col.metric": "Metric",
    "col.quantity": "Quantity",
    "col.downloads": "Download",
    "col.digest": "Digest",
    "col.chain": "Chain",
    "col.seq": "Seq",
    "col.hash": "Hash",
    "col.entries_checked": "Entries checked",
    "col.settlements_checked": "Settlements checked",
    "col.status": "Status",
    "col.school": "School",
    "col.occurred_at": "Occurred",
    "col.usage_period": "Usage month",
    "col.adjustment": "Adjustment",
    "col.lines": "Lines",
    "col.issue_date": "Issued",
    "yes": "Yes",
    "no": "No",
    "total": "Total",
}

STRINGS: Final[Mapping[Language, Mapping[str, str]]] = {"nb": NB, "en": EN}

# What a vendor must fix for each rejection reason, in bokmål. In English the page shows
# the domain's own text (`REASON_EXPLANATIONS`), the one the API's rejections feed gives,
# so the page and the feed never say different things.
REASON_EXPLANATIONS_NB: Final[Mapping[str, str]] = {
    "malformed": "Meldingen kunne ikke leses i det hele tatt: send ett JSON-objekt (eller "
    "én Avro-post i single-object-koding) per hendelse.",
    "schema_violation": "Et felt mangler, har feil type eller en ugyldig verdi: sjekk "
    "hendelsen mot skjemaet for brukshendelser (alle felt er påkrevd, quantity et helt tall, "
    "role pupil eller teacher, occurred_at et RFC 3339-tidspunkt med tidssone).",
    "vendor_mismatch": "Hendelsen oppgir en annen leverandør enn den som sendte den: send "
    "hver leverandørs hendelser med leverandørens egen nøkkel.",
    "unknown_vendor": "Leverandørens organisasjonsnummer finnes ikke i katalogen: bruk "
    "nummeret kommunene har registrert for dere.",
    "unknown_product": "Produktet er ikke et av leverandørens produkter i katalogen: bruk "
    "produkt-ID-en som er avtalt i lisensen.",
    "unknown_school": "Skolens organisasjonsnummer er ikke en skole i katalogen: bruk "
    "skolens organisasjonsnummer fra NSR.",
    "invalid_quantity": "Mengden (quantity) må være et helt tall, minst 1.",
    "occurred_in_future": "occurred_at er mer enn 5 minutter etter at hendelsen ble mottatt: "
    "sjekk klokken, og send hendelser etter at de har skjedd.",
    "conflicting_duplicate": "En hendelse med samme leverandør og event_id er allerede "
    "godtatt med annet innhold: bruk en ny event_id for en ny hendelse.",
}


def reason_explanation(language: Language, reason_code: str, english: str) -> str:
    """A rejection's explanation in the page's language; `english` (the domain's) otherwise."""
    if language == "nb":
        return REASON_EXPLANATIONS_NB.get(reason_code, english)
    return english


def language_of(value: str | None) -> Language:
    """A supported language from a query parameter or cookie; the default otherwise."""
    return "en" if value == "en" else DEFAULT_LANGUAGE


def text(language: Language, key: str) -> str:
    try:
        return STRINGS[language][key]
    except KeyError as error:
        raise MissingText(f"no {language} text for {key!r}") from error
