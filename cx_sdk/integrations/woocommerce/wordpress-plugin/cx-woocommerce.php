<?php
/**
 * Plugin Name:          cx – Customer Experience for WooCommerce
 * Description:          Sends orders, refunds and shipments to your cx collector as journey events and shows the cx widgets (delivery tracking, recommendations, surveys, chat) in your shop.
 * Version:              0.1.0
 * Requires at least:    6.5
 * Requires PHP:         7.4
 * Requires Plugins:     woocommerce
 * WC requires at least: 8.0
 * Author:               cx
 * License:              Apache-2.0
 * Text Domain:          cx-woocommerce
 * Domain Path:          /languages
 *
 * @package CX_WooCommerce
 */

defined( 'ABSPATH' ) || exit;

define( 'CX_WC_VERSION', '0.1.0' );
define( 'CX_WC_FILE', __FILE__ );
define( 'CX_WC_OPTION', 'cx_wc_settings' );
define( 'CX_WC_WEBHOOKS_OPTION', 'cx_wc_webhook_ids' );

require_once __DIR__ . '/includes/functions.php';
require_once __DIR__ . '/includes/settings.php';
require_once __DIR__ . '/includes/webhooks.php';
require_once __DIR__ . '/includes/widgets.php';

// Orders live in custom tables (HPOS) on new shops; the plugin reads orders only through
// the WooCommerce API, so it is compatible.
add_action(
	'before_woocommerce_init',
	static function () {
		if ( class_exists( \Automattic\WooCommerce\Utilities\FeaturesUtil::class ) ) {
			\Automattic\WooCommerce\Utilities\FeaturesUtil::declare_compatibility( 'custom_order_tables', CX_WC_FILE, true );
		}
	}
);

add_action(
	'init',
	static function () {
		load_plugin_textdomain( CX_WC_TEXT_DOMAIN, false, dirname( plugin_basename( CX_WC_FILE ) ) . '/languages' );
	}
);

register_activation_hook( __FILE__, 'cx_wc_activate' );
register_deactivation_hook( __FILE__, 'cx_wc_deactivate' );

if ( is_admin() ) {
	cx_wc_settings_hooks();
}
cx_wc_webhook_hooks();
cx_wc_widget_hooks();
