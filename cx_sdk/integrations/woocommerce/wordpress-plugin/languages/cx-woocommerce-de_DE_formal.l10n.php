<?php
/**
 * Formal German: the de_DE texts already address the merchant as "Sie".
 *
 * @package CX_WooCommerce
 */

$cx_wc_l10n             = require __DIR__ . '/cx-woocommerce-de_DE.l10n.php';
$cx_wc_l10n['language'] = 'de_DE_formal';
return $cx_wc_l10n;
