# Reads an archive package independently of Tipsa (tests/api/archive.rs): parses METS.xml,
# PREMIS and every record.xml with Python's own XML parser, recomputes every SHA-256, lists
# every file on disk, and prints what it found as JSON.
import hashlib
import json
import os
import sys
import xml.etree.ElementTree as ET

METS = "{http://www.loc.gov/METS/}"
XLINK = "{http://www.w3.org/1999/xlink}"
PREMIS = "{http://www.loc.gov/premis/v3}"
RECORD = "{urn:tipsa:arkiv:arende:1}"

root = sys.argv[1]


def digest(path):
    with open(os.path.join(root, path), "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def listed(element, href):
    full = os.path.join(root, href)
    return {
        "href": href,
        "size": element.get("SIZE"),
        "checksum": element.get("CHECKSUM"),
        "checksumtype": element.get("CHECKSUMTYPE"),
        "mimetype": element.get("MIMETYPE"),
        "mdtype": element.get("MDTYPE"),
        "actual_size": os.path.getsize(full) if os.path.isfile(full) else None,
        "actual_sha256": digest(href) if os.path.isfile(full) else None,
    }


mets = ET.parse(os.path.join(root, "METS.xml")).getroot()
header = mets.find(METS + "metsHdr")
out = {
    "tag": mets.tag,
    "objid": mets.get("OBJID"),
    "type": mets.get("TYPE"),
    "profile": mets.get("PROFILE"),
    "package_type": header.get("{https://DILCIS.eu/XML/METS/CSIPExtensionMETS}OAISPACKAGETYPE"),
    "agents": [
        [a.get("ROLE"), a.get("TYPE"), a.get("OTHERTYPE"), a.findtext(METS + "name")]
        for a in header.findall(METS + "agent")
    ],
    "structmaps": [s.get("LABEL") for s in mets.findall(METS + "structMap")],
    "divisions": [d.get("LABEL") for d in mets.findall(METS + "structMap/" + METS + "div/" + METS + "div")],
    "files": [],
    "mdrefs": [],
}
for f in mets.iter(METS + "file"):
    locat = f.find(METS + "FLocat")
    entry = listed(f, locat.get(XLINK + "href"))
    entry["loctype"] = locat.get("LOCTYPE")
    entry["xlink_type"] = locat.get(XLINK + "type")
    out["files"].append(entry)
for ref in mets.iter(METS + "mdRef"):
    out["mdrefs"].append(listed(ref, ref.get(XLINK + "href")))

present = []
for directory, _, names in os.walk(root):
    for name in names:
        present.append(os.path.relpath(os.path.join(directory, name), root).replace(os.sep, "/"))
out["present"] = sorted(present)

premis_href = next(r["href"] for r in out["mdrefs"] if r["mdtype"] == "PREMIS")
premis = ET.parse(os.path.join(root, premis_href)).getroot()
out["premis_objects"] = {
    o.findtext(PREMIS + "objectIdentifier/" + PREMIS + "objectIdentifierValue"): [
        o.findtext(".//" + PREMIS + "messageDigestAlgorithm"),
        o.findtext(".//" + PREMIS + "messageDigest"),
        o.findtext(".//" + PREMIS + "size"),
    ]
    for o in premis.findall(PREMIS + "object")
}
out["premis_events"] = [
    [
        e.findtext(PREMIS + "eventType"),
        [l.findtext(PREMIS + "linkingObjectIdentifierValue") for l in e.findall(PREMIS + "linkingObjectIdentifier")],
    ]
    for e in premis.findall(PREMIS + "event")
]

records = {}
for entry in out["files"]:
    if not entry["href"].endswith("/record.xml"):
        continue
    case = ET.parse(os.path.join(root, entry["href"])).getroot().find(
        RECORD + "ArkivobjektListaArenden/" + RECORD + "ArkivobjektArende"
    )
    party = case.find(RECORD + "Motpart")
    documents = case.findall(RECORD + "ArkivobjektListaHandlingar/" + RECORD + "ArkivobjektHandling")
    records[case.findtext(RECORD + "ArkivobjektID")] = {
        "path": entry["href"],
        "outcome": case.find(RECORD + "Utfall").get("kod"),
        "closed": case.findtext(RECORD + "Avslutat"),
        "rule": case.find(RECORD + "Gallring").get("Regel"),
        "party": None
        if party is None
        else [party.findtext(RECORD + n) for n in ("Namn", "Epostadress", "Telefonnummer")],
        "note": case.findtext(RECORD + "Anteckning"),
        "documents": [
            [
                d.findtext(RECORD + "Handlingstyp"),
                d.findtext(RECORD + "Riktning"),
                d.findtext(RECORD + "Avsandare"),
                d.findtext(RECORD + "Beskrivning"),
            ]
            for d in documents
        ],
        "attachments": [
            [b.get("Lank"), b.get("Checksumma"), b.get("Storlek")]
            for d in documents
            for b in d.findall(RECORD + "Bilaga")
        ],
    }
out["records"] = records
print(json.dumps(out))
