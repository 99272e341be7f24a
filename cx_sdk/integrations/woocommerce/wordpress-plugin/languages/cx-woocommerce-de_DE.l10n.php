<?php
/**
 * German translations (WordPress 6.5+ reads .l10n.php files directly: no build step).
 *
 * @package CX_WooCommerce
 */

return array(
	'domain'       => 'cx-woocommerce',
	'plural-forms' => 'nplurals=2; plural=(n != 1);',
	'language'     => 'de_DE',
	'messages'     => array(
		'cx – Customer Experience for WooCommerce' => 'cx – Customer Experience für WooCommerce',
		'Sends orders, refunds and shipments to your cx collector as journey events and shows the cx widgets (delivery tracking, recommendations, surveys, chat) in your shop.' => 'Sendet Bestellungen, Erstattungen und Sendungen als Journey-Events an Ihren cx-Collector und zeigt die cx-Widgets (Sendungsverfolgung, Empfehlungen, Umfragen, Chat) in Ihrem Shop.',
		'%s – WooCommerce stopped it after failed deliveries; save the settings to recreate it' => '%s – WooCommerce hat ihn nach fehlgeschlagenen Zustellungen angehalten; speichern Sie die Einstellungen, um ihn neu anzulegen',
		'A secret was generated. Register it with the collector once:' => 'Ein Geheimnis wurde erzeugt. Hinterlegen Sie es einmal im Collector:',
		'Collector URL' => 'Collector-URL',
		'Connect this shop to your cx collector: orders, refunds and shipments are sent as journey events and the cx widgets appear in the shop.' => 'Verbinden Sie diesen Shop mit Ihrem cx-Collector: Bestellungen, Erstattungen und Sendungen werden als Journey-Events gesendet, und die cx-Widgets erscheinen im Shop.',
		'Connected: the collector accepted the write key.' => 'Verbunden: Der Collector hat den Schreibschlüssel akzeptiert.',
		'Connection' => 'Verbindung',
		'Enter the collector URL, the shop id and the write key first.' => 'Geben Sie zuerst die Collector-URL, die Shop-ID und den Schreibschlüssel ein.',
		'Not set yet.' => 'Noch nicht gesetzt.',
		'Saved. Leave empty to keep it.' => 'Gespeichert. Leer lassen, um ihn zu behalten.',
		'Shop id' => 'Shop-ID',
		'Test connection' => 'Verbindung testen',
		'The collector URL must start with https:// (http:// only for localhost).' => 'Die Collector-URL muss mit https:// beginnen (http:// nur für localhost).',
		'The collector answered with HTTP %d.' => 'Der Collector hat mit HTTP %d geantwortet.',
		'The collector cannot be reached: %s' => 'Der Collector ist nicht erreichbar: %s',
		'The collector refused the write key.' => 'Der Collector hat den Schreibschlüssel abgelehnt.',
		'The secret printed by "cx shops create" (letters and digits). Leave empty to keep the saved one; if none is saved, one is generated.' => 'Das Geheimnis, das „cx shops create“ ausgibt (Buchstaben und Ziffern). Leer lassen, um das gespeicherte zu behalten; ist keines gespeichert, wird eines erzeugt.',
		'The shop id may only contain letters, digits, "_" and "-".' => 'Die Shop-ID darf nur Buchstaben, Ziffern, „_“ und „-“ enthalten.',
		'The webhook secret must be at least 32 letters and digits (other characters break WooCommerce signatures).' => 'Das Webhook-Geheimnis muss aus mindestens 32 Buchstaben und Ziffern bestehen (andere Zeichen stören die Signaturen von WooCommerce).',
		'Webhook secret' => 'Webhook-Geheimnis',
		'Webhooks' => 'Webhooks',
		'Write key' => 'Schreibschlüssel',
		'You are not allowed to do this.' => 'Sie dürfen das nicht tun.',
		'active' => 'aktiv',
		'cx' => 'cx',
		'cx Customer Experience' => 'cx Customer Experience',
		'not created (complete the settings)' => 'nicht angelegt (vervollständigen Sie die Einstellungen)',
	),
);
