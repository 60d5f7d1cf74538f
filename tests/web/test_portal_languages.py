"""Every portal page outside the usage explorer is in the organization's language (its locale), the status
badges included; the sign-in page, before anyone is known, follows the browser."""

import pytest

from tests import factories

PAGES = {
    # language: {path: texts that must be on the page}
    "de": {
        "/": ["Übersicht", "Nutzungsentgelte bisher", "Hochrechnung zum Periodenende", "Auffälligkeiten", "Abmelden"],
        "/statements/": ["Rechnungen", "Ausgestellt", "Fällig", "E-Rechnung", "PDF wird erstellt"],
        "/settings/": ["Einstellungen", "Mitglieder und Rollen", "Letzte Aktivitäten", "1 Administrator"],
        "/settings/members/": ["Jemanden einladen", "E-Mail-Adresse", "Gesamte Organisation", "Einladung senden"],
        "/settings/tokens/": ["Token erstellen", "Läuft ab nach", "Rechnungen lesen"],
        "/settings/personalization/": [
            "Personalisierung",
            "Aktuell ist die Personalisierung",
            "ausgeschaltet",
            "Was wir nicht verwenden",
        ],
        "/privacy/": ["Datenschutz", "Alles Weitere", "Wohin die Daten gehen"],
        "/offers/privacy": ["Wie wir Angebote für Sie auswählen", "erstellen wir kein Profil aus Ihrer Nutzung"],
        "/settings/budgets/": ["Budget anlegen", "Betrag je Abrechnungszeitraum", "Noch keine Budgets."],
        "/settings/e-invoice/": ["E-Rechnung", "Käuferreferenz oder Leitweg-ID", "Elektronische Adresse"],
    },
    "fr": {
        "/": ["Tableau de bord", "Consommation facturable à ce jour", "Éléments inhabituels", "Se déconnecter"],
        "/statements/": ["Factures", "Émise", "Échéance", "Facture électronique"],
        "/settings/": ["Paramètres", "Membres et rôles", "Activité récente"],
        "/settings/members/": ["Inviter quelqu’un", "Adresse e-mail", "Envoyer l’invitation"],
        "/settings/tokens/": ["Créer un jeton", "Expire après"],
        "/settings/personalization/": ["Personnalisation", "désactivée", "Ce que nous n’utilisons pas"],
        "/offers/privacy": ["Comment nous choisissons les offres pour vous"],
        "/settings/budgets/": ["Ajouter un budget", "Montant par période de facturation"],
        "/settings/e-invoice/": ["Référence acheteur ou Leitweg-ID", "Adresse électronique"],
    },
    "nl": {
        "/": ["Dashboard", "Gebruikskosten tot nu toe", "Opvallende posten", "Afmelden"],
        "/statements/": ["Facturen", "Uitgegeven", "Vervaldatum", "E-factuur"],
        "/settings/": ["Instellingen", "Leden en rollen", "Recente activiteit"],
        "/settings/members/": ["Iemand uitnodigen", "E-mailadres", "Uitnodiging versturen"],
        "/settings/tokens/": ["Token aanmaken", "Verloopt na"],
        "/settings/personalization/": ["Personalisatie", "uit", "Wat we niet gebruiken"],
        "/offers/privacy": ["Hoe we aanbiedingen voor u kiezen"],
        "/settings/budgets/": ["Budget toevoegen", "Bedrag per factuurperiode"],
        "/settings/e-invoice/": ["Referentie koper of Leitweg-ID", "Elektronisch adres"],
    },
}
# English texts of the same pages, none of which may remain in a translated page.
ENGLISH = [
    "Sign out",
    "Usage charges so far",
    "Members and roles",
    "Invite someone",
    "Create a token",
    "Add a budget",
    ">Issued<",
    "Recent activity",
    "Skip to content",
    "Business portal",
    "What we use",
]


@pytest.mark.parametrize("language", sorted(PAGES))
def test_every_page_is_in_the_organizations_language(client, billed_org, signed_in, language):
    billed_org.locale = {"de": "de-DE", "fr": "fr-FR", "nl": "nl-NL"}[language]
    billed_org.save(update_fields=["locale"])
    factories.issued_statement(billed_org)
    signed_in(billed_org, role="admin")
    for path, texts in PAGES[language].items():
        response = client.get(path)
        assert response.status_code == 200, path
        page = response.content.decode()
        assert f'<html lang="{language}">' in page, path
        for text in texts:
            assert text in page, (path, text)
        for text in ENGLISH:
            assert text not in page, (path, text)


def test_the_status_badge_is_translated_on_the_statement_page(client, billed_org, signed_in):
    billed_org.locale = "nl-NL"
    billed_org.save(update_fields=["locale"])
    statement = factories.issued_statement(billed_org)
    signed_in(billed_org, role="admin")
    page = client.get(f"/statements/{statement.pk}/").content.decode()
    assert '<span class="badge issued">Uitgegeven</span>' in page
    # "Issued" the date label and "Issued" the status are told apart (context "status").
    assert "Factuurdatum" in page


def test_an_english_organization_keeps_english_pages(client, billed_org, signed_in):
    statement = factories.issued_statement(billed_org)  # locale en-IE
    signed_in(billed_org, role="admin")
    page = client.get("/statements/").content.decode()
    assert '<span class="badge issued">Issued</span>' in page and "Sign out" in page
    assert f'href="/statements/{statement.pk}/"' in page


@pytest.mark.parametrize(
    ("accept", "texts"),
    [
        ("de-DE,de;q=0.9", ["Anmelden", "Benutzername", "Passwort vergessen?"]),
        ("fr-FR,fr;q=0.9", ["Se connecter", "Nom d’utilisateur", "Mot de passe oublié ?"]),
        ("nl-NL,nl;q=0.9", ["Aanmelden", "Gebruikersnaam", "Wachtwoord vergeten?"]),
        ("en-US,en;q=0.9", ["Sign in", "Username", "Forgot your password?"]),
    ],
)
def test_the_sign_in_page_follows_the_browser(client, db, accept, texts):
    page = client.get("/login/", HTTP_ACCEPT_LANGUAGE=accept).content.decode()
    for text in texts:
        assert text in page, text


def test_a_message_after_a_write_is_in_the_organizations_language(client, billed_org, signed_in):
    billed_org.locale = "fr-FR"
    billed_org.save(update_fields=["locale"])
    signed_in(billed_org, role="admin")
    response = client.post("/settings/personalization/", {"consent": "on"}, follow=True)
    assert "Votre choix de personnalisation a été enregistré." in response.content.decode()


def test_the_password_and_error_pages_follow_the_browser(client, db):
    page = client.get("/password-reset/", HTTP_ACCEPT_LANGUAGE="nl").content.decode()
    assert "Wachtwoord opnieuw instellen" in page and "Link versturen" in page
    response = client.get("/no-such-page/", HTTP_ACCEPT_LANGUAGE="de")
    assert response.status_code == 404 and "Seite nicht gefunden" in response.content.decode()
